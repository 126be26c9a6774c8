"""Outside factors against a store's sales: correlation, lag profile (0-14 days) and rolling stability.

Factors: oil price level, oil price change (7 days), oil price band (low / mid / high from the
tertiles of the window's prices), the store's own customer count, and the customer count of the
other stores in the same City and in the same State (``engine.data.features.customer_features``).
A lag of k days pairs the sales of day t with the factor of day t-k. Closed days (Dec 25, or no
customers at the store) are left out. ``transform="change_7d"`` correlates week-on-week changes
instead of levels, which removes the shared weekday pattern and slow trends from both sides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.analysis.series import daily_series, series_label, window
from engine.data.calendar import is_closed_expr
from engine.data.dataset import Dataset
from engine.data.features import customer_features

FACTORS = {
    "oil": "the oil price",
    "oil_change": "the 7-day oil price change",
    "oil_band": "the oil price band (low / mid / high)",
    "customers": "the store's own customer count",
    "city_customers": "the customers of the other stores in the same city",
    "state_customers": "the customers of the other stores in the same state",
}
TRANSFORMS = ("level", "change_7d")
TARGETS = {"sales": "sales", "customers": "the store's customers"}
BANDS = ("low", "mid", "high")


@dataclass(frozen=True)
class FactorResult:
    factor: str
    label: str
    r_lag0: float
    best_lag: int
    r_best: float
    lag_profile: pl.DataFrame  # lag, r, n
    rolling: pl.DataFrame  # Date, r (rolling correlation at best_lag)
    rolling_min: float
    rolling_max: float
    same_sign_share: float  # share of rolling windows whose r has the sign of r_best
    stable: bool
    scatter: pl.DataFrame  # Date, value (factor at t - best_lag), Qty
    verdict: str

    def summary_row(self) -> dict:
        return {"factor": self.factor, "r_lag0": self.r_lag0, "best_lag": self.best_lag, "r_best": self.r_best,
                "rolling_min": self.rolling_min, "rolling_max": self.rolling_max,
                "same_sign_share": self.same_sign_share, "stable": self.stable, "verdict": self.verdict}


@dataclass(frozen=True)
class FactorAnalysis:
    label: str
    start: dt.date
    end: dt.date
    transform: str
    target: str
    rolling_window: int
    results: list[FactorResult]
    band_means: pl.DataFrame  # band, low_price, high_price, days, mean_qty
    band_verdict: str

    def result(self, factor: str) -> FactorResult:
        for r in self.results:
            if r.factor == factor:
                return r
        raise KeyError(f"unknown factor {factor!r}; use one of {', '.join(FACTORS)}")

    def summary(self) -> pl.DataFrame:
        return pl.DataFrame([r.summary_row() for r in self.results])

    def lag_profiles(self) -> pl.DataFrame:
        return pl.concat([r.lag_profile.with_columns(pl.lit(r.factor).alias("factor")) for r in self.results]).select("factor", "lag", "r", "n")

    def to_dict(self) -> dict:
        return {"label": self.label, "start": str(self.start), "end": str(self.end), "transform": self.transform, "target": self.target,
                "rolling_window": self.rolling_window, "factors": self.summary().to_dicts(),
                "lag_profiles": self.lag_profiles().to_dicts(), "band_means": self.band_means.to_dicts(),
                "band_verdict": self.band_verdict}


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan"), n
    return float(np.corrcoef(a[ok], b[ok])[0, 1]), n


def _rolling_corr(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    import pandas as pd

    return pd.Series(a).rolling(size, min_periods=max(10, int(size * 0.6))).corr(pd.Series(b)).to_numpy()


def _strength(r: float) -> str:
    a = abs(r)
    return "strongly" if a >= 0.6 else ("moderately" if a >= 0.3 else "weakly")


def factor_frame(ds: Dataset, store: int, product: int | None = None) -> pl.DataFrame:
    """Date, Qty, open, and every factor's daily value for the whole data period (before any window)."""
    s = daily_series(ds, store, product)
    oil = ds.oil_price.select("Date", pl.col("WTI_Price").cast(pl.Float64).alias("oil"))
    cust = customer_features(ds).filter(pl.col("Store_ID") == store).drop("Store_ID")
    return (
        s.join(oil, on="Date", how="left").join(cust, on="Date", how="left")
        .with_columns(pl.col("customers", "city_customers", "state_customers").cast(pl.Float64))
        .with_columns(
            (pl.col("oil") - pl.col("oil").shift(7)).alias("oil_change"),
            (~is_closed_expr(pl.col("Date")) & (pl.col("customers").fill_null(0) > 0)).alias("open"),
        )
        .sort("Date")
    )


def factor_analysis(ds: Dataset, store: int, product: int | None = None, start: dt.date | None = None,
                    end: dt.date | None = None, max_lag: int = 14, rolling_window: int = 90,
                    transform: str = "level", frame: pl.DataFrame | None = None, target: str = "sales") -> FactorAnalysis:
    """Correlation of the series with each factor at lags 0..max_lag over the window, and its rolling stability.

    ``frame`` may pass a precomputed ``factor_frame`` (the page caches it per store/product).
    ``target="customers"`` studies the store's own customer count instead of its sales (the pilot's
    question: when the neighbours get more visitors, does this store too?).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; use 'sales' or 'customers'.")
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown transform {transform!r}; use 'level' or 'change_7d'.")
    start, end = window(ds, start, end)
    f = frame if frame is not None else factor_frame(ds, store, product)
    inside = f.filter(pl.col("Date").is_between(start, end))
    if inside.filter("open").height < max(30, max_lag + 10):
        raise ValueError(f"the window {start} to {end} has only {inside.filter('open').height} open days; pick at least 30 days for correlations.")
    lo, hi = np.quantile(inside["oil"].drop_nulls().to_numpy(), [1 / 3, 2 / 3])
    f = f.with_columns(
        pl.when(pl.col("oil") < lo).then(0).when(pl.col("oil") > hi).then(2).otherwise(1).cast(pl.Float64).alias("oil_band"))
    factors = {k: v for k, v in FACTORS.items() if not (target == "customers" and k == "customers")}
    if target == "customers":
        f = f.with_columns(pl.col("customers").alias("Qty"))
    cols = ["Qty", *FACTORS]
    f = f.with_columns(pl.when(pl.col("open")).then(pl.col(c)).otherwise(None).alias(c) for c in cols)
    if transform == "change_7d":
        f = f.with_columns((pl.col(c) - pl.col(c).shift(7)).alias(c) for c in cols)
    in_window = f["Date"].is_between(start, end).to_numpy()
    dates = f["Date"].filter(pl.Series(in_window))
    qty = f["Qty"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    results = []
    for factor, label in factors.items():
        x = f[factor].cast(pl.Float64).fill_null(np.nan).to_numpy()
        profile = []
        for lag in range(max_lag + 1):
            lagged = np.concatenate([np.full(lag, np.nan), x[: x.size - lag]])
            r, n = _corr(qty[in_window], lagged[in_window])
            profile.append({"lag": lag, "r": r, "n": n})
        prof = pl.DataFrame(profile, schema={"lag": pl.Int64, "r": pl.Float64, "n": pl.Int64})
        finite = prof.filter(pl.col("r").is_not_nan())
        best = finite.sort(pl.col("r").abs(), descending=True).row(0, named=True) if finite.height else {"lag": 0, "r": float("nan")}
        lag = int(best["lag"])
        lagged = np.concatenate([np.full(lag, np.nan), x[: x.size - lag]])
        roll = _rolling_corr(qty, lagged, rolling_window)[in_window]
        valid = roll[np.isfinite(roll)]
        rmin = float(valid.min()) if valid.size else float("nan")
        rmax = float(valid.max()) if valid.size else float("nan")
        r_best = float(best["r"])
        share = float(np.mean(np.sign(valid) == np.sign(r_best))) if valid.size and np.isfinite(r_best) else float("nan")
        stable = bool(np.isfinite(r_best) and abs(r_best) >= 0.1 and share >= 0.8)
        results.append(FactorResult(
            factor, label, float(prof["r"][0]), lag, r_best, prof,
            pl.DataFrame({"Date": dates, "r": roll}), rmin, rmax, share, stable,
            pl.DataFrame({"Date": dates, "value": lagged[in_window], "Qty": qty[in_window]}),
            _verdict(label, r_best, lag, rmin, rmax, share, stable, rolling_window, transform, TARGETS[target]),
        ))
    band_means, band_verdict = _bands(inside if target == "sales" else inside.with_columns(pl.col("customers").alias("Qty")), lo, hi)
    return FactorAnalysis(series_label(ds, store, product), start, end, transform, target, rolling_window, results, band_means, band_verdict)


def _verdict(label, r, lag, rmin, rmax, share, stable, size, transform, noun="sales") -> str:
    what = f"week-on-week changes of {noun}" if transform == "change_7d" else noun
    if not np.isfinite(r):
        if "other stores" in label:
            return f"There is no other store to compare with ({label} are always 0 here), so no correlation can be measured."
        return f"{label[0].upper() + label[1:]} does not vary in this window, so no correlation can be measured."
    if abs(r) < 0.1:
        return f"No useful link between {what} and {label} (best r = {r:+.2f} at lag {lag}): leave it out of the model."
    direction = "move with" if r > 0 else "move against"
    when = "the same day" if lag == 0 else f"{lag} day{'s' if lag > 1 else ''} later"
    head = f"{what[0].upper() + what[1:]} {direction} {label} ({_strength(r)}, r = {r:+.2f}, strongest {when})"
    if stable:
        return f"{head}; the link is stable: the {size}-day correlation stays between {rmin:+.2f} and {rmax:+.2f}, so it is worth a column."
    return (f"{head}; but the link is not stable: the {size}-day correlation swings from {rmin:+.2f} to {rmax:+.2f} "
            f"(same sign in {share:.0%} of windows), so do not rely on it.")


def _bands(inside: pl.DataFrame, lo: float, hi: float) -> tuple[pl.DataFrame, str]:
    f = inside.filter(pl.col("open") & pl.col("oil").is_not_null()).with_columns(
        pl.when(pl.col("oil") < lo).then(0).when(pl.col("oil") > hi).then(2).otherwise(1).alias("band_id"))
    means = (f.group_by("band_id").agg(pl.col("oil").min().alias("low_price"), pl.col("oil").max().alias("high_price"),
                                       pl.len().alias("days"), pl.col("Qty").mean().alias("mean_qty"))
             .sort("band_id").with_columns(pl.col("band_id").map_elements(lambda i: BANDS[i], return_dtype=pl.String).alias("band"))
             .select("band", "low_price", "high_price", "days", "mean_qty"))
    if means.height < 2:
        return means, "The oil price hardly moves in this window, so the bands cannot be compared."
    top, bottom = means.sort("mean_qty")[-1].row(0, named=True), means.sort("mean_qty")[0].row(0, named=True)
    gap = top["mean_qty"] / bottom["mean_qty"] - 1 if bottom["mean_qty"] else float("nan")
    return means, (f"Values are highest in the {top['band']} oil band ({top['mean_qty']:,.0f} a day) and lowest in the "
                   f"{bottom['band']} band ({bottom['mean_qty']:,.0f}), a {gap:.0%} gap; bands are the tertiles of "
                   f"the window's prices (${lo:,.2f} and ${hi:,.2f}). Oil bands also split the calendar, so check the trend before trusting this.")
