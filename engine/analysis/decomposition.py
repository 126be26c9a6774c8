"""Trend + seasonal + residual split of a daily series (STL or classical moving averages).

``original = trend + seasonal + residual`` holds on every day for both methods (the classical
trend is extrapolated at the ends so no day is lost). Strengths follow Hyndman & Athanasopoulos:
F = max(0, 1 - var(residual) / var(component + residual)).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.stats import one_blas_thread
from engine.analysis.series import daily_series, series_label
from engine.data.dataset import Dataset

PERIODS = {"weekly": 7, "yearly": 365}
METHODS = ("stl", "classical")


@dataclass(frozen=True)
class Decomposition:
    label: str
    method: str
    period: int
    frame: pl.DataFrame  # Date, original, trend, seasonal, residual
    trend_strength: float
    seasonal_strength: float
    residual_share: float  # var(residual) / var(original)
    seasonal_profile: pl.DataFrame  # position (weekday 0=Mon for weekly, day of year else), effect
    verdict: str

    def to_dict(self) -> dict:
        return {"label": self.label, "method": self.method, "period": self.period,
                "trend_strength": self.trend_strength, "seasonal_strength": self.seasonal_strength,
                "residual_share": self.residual_share, "verdict": self.verdict,
                "seasonal_profile": self.seasonal_profile.to_dicts()}


def period_days(period: int | str) -> int:
    """7 for "weekly", 365 for "yearly", or the number itself ("30" -> 30)."""
    if isinstance(period, str):
        if period in PERIODS:
            return PERIODS[period]
        if not period.isdigit():
            raise ValueError(f"unknown period {period!r}; use weekly, yearly or a number of days.")
    return int(period)


def _strength(component: np.ndarray, residual: np.ndarray) -> float:
    denom = float(np.var(component + residual))
    return 0.0 if denom == 0 else float(max(0.0, 1.0 - np.var(residual) / denom))


def _words(strength: float) -> str:
    return "strong" if strength >= 0.64 else ("moderate" if strength >= 0.3 else "weak")


def decompose_values(dates, values, period: int = 7, method: str = "stl", label: str = "the series") -> Decomposition:
    """Decompose ``values`` (one per day, ``dates`` aligned) with the given seasonal ``period``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use 'stl' or 'classical'.")
    y = np.asarray(values, dtype=float)
    if not np.isfinite(y).all():
        raise ValueError("the series has missing values; fill them before decomposing.")
    if y.size < 2 * period + 1:
        need = "two full years" if period >= 365 else f"at least {2 * period + 1} days"
        fix = "widen the window" + (" or use the weekly period" if period > 7 else "")
        raise ValueError(f"a period of {period} days needs {need} of data but the window has {y.size} days; {fix}.")
    if method == "stl":
        from statsmodels.tsa.seasonal import STL

        with one_blas_thread():
            # long periods: loess evaluated every ~period/10 points and interpolated, as in Cleveland et al. (1990);
            # many times faster for the yearly period (docs/benchmarks.md); original = trend + seasonal + residual still holds exactly
            jump = {} if period < 30 else {"trend_jump": -(-period // 10), "low_pass_jump": -(-period // 10)}
            res = STL(y, period=period, robust=True, **jump).fit()
        trend, seasonal, resid = np.asarray(res.trend), np.asarray(res.seasonal), np.asarray(res.resid)
    else:
        from statsmodels.tsa.seasonal import seasonal_decompose

        res = seasonal_decompose(y, model="additive", period=period, extrapolate_trend="period")
        trend, seasonal = np.asarray(res.trend), np.asarray(res.seasonal)
        resid = y - trend - seasonal  # equals res.resid; computed so no NaN is left at the ends
    frame = pl.DataFrame({"Date": dates, "original": y, "trend": trend, "seasonal": seasonal, "residual": resid})
    ts, ss = _strength(trend, resid), _strength(seasonal, resid)
    share = float(np.var(resid) / np.var(y)) if np.var(y) > 0 else 0.0
    if period == 7:
        profile = frame.group_by((pl.col("Date").dt.weekday() - 1).alias("position")).agg(pl.col("seasonal").mean().alias("effect")).sort("position")
        hi = profile.sort("effect")[-1, "position"]
        lo = profile.sort("effect")[0, "position"]
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        where = f"; {names[hi]} is the busiest day ({profile['effect'].max():+,.0f}) and {names[lo]} the quietest ({profile['effect'].min():+,.0f})"
    else:
        profile = frame.group_by(pl.col("Date").dt.month().alias("position")).agg(pl.col("seasonal").mean().alias("effect")).sort("position")
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        hi = profile.sort("effect")[-1, "position"]
        lo = profile.sort("effect")[0, "position"]
        where = f"; {months[hi - 1]} is the strongest month and {months[lo - 1]} the weakest"
    verdict = (f"{label[0].upper() + label[1:]}: {_words(ss)} {'weekly' if period == 7 else ('yearly' if period == 365 else f'{period}-day')} seasonality (strength {ss:.2f}), "
               f"{_words(ts)} trend (strength {ts:.2f}); the residual keeps {share:.0%} of the variance{where}.")
    cycles = y.size / period
    if cycles < 4:
        verdict += f" Only {cycles:.1f} cycles of {period} days: the seasonal shape is rough, read it with care."
    return Decomposition(label, method, period, frame, ts, ss, share, profile, verdict)


def decompose(ds: Dataset, store: int, product: int | None = None, start: dt.date | None = None,
              end: dt.date | None = None, period: int | str = 7, method: str = "stl") -> Decomposition:
    """Decompose the (store, product) series, or the store's total when ``product`` is None."""
    period = period_days(period)
    s = daily_series(ds, store, product, start, end)
    return decompose_values(s["Date"], s["Qty"].to_numpy(), period, method, series_label(ds, store, product))
