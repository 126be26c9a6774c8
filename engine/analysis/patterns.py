"""Calendar patterns of a daily series in any window: weekday and month profiles, payday and holiday effects.

Closed days (Dec 25) are left out of every mean. Payday and holiday effects are measured on the
weekday-adjusted ratio (the day's sales / the mean of its weekday in the window), so a payday that
falls on a Saturday is not credited with Saturday's usual lift. The p-value is Welch's t-test of
those ratios against the ordinary open days.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.stats import format_p
from engine.analysis.series import daily_series, series_label
from engine.data.calendar import is_closed_expr, is_payday_expr
from engine.data.dataset import Dataset

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Patterns:
    label: str
    start: dt.date
    end: dt.date
    weekday: pl.DataFrame  # weekday (0=Mon), day, days, mean_qty, index (1.0 = average day)
    monthly: pl.DataFrame  # month, name, days, mean_qty, index
    effects: pl.DataFrame  # effect, days, mean_qty, lift_pct, p_value, verdict
    holidays: pl.DataFrame  # Holiday, days, mean_qty, lift_pct (each holiday's own weekday-adjusted lift)
    weekday_verdict: str
    monthly_verdict: str
    holiday_verdict: str

    def effects_table(self) -> pl.DataFrame:
        """Payday / holiday / eve effects and each holiday's own lift in one table (effect, days, mean_qty, lift_pct, p_value)."""
        return pl.concat([
            self.effects.select("effect", "days", "mean_qty", "lift_pct", "p_value"),
            self.holidays.select(pl.col("Holiday").alias("effect"), pl.col("days").cast(pl.Int64), "mean_qty", "lift_pct",
                                 pl.lit(None, pl.Float64).alias("p_value")),
        ])

    def to_dict(self) -> dict:
        return {"label": self.label, "start": str(self.start), "end": str(self.end),
                "weekday_verdict": self.weekday_verdict, "monthly_verdict": self.monthly_verdict,
                "holiday_verdict": self.holiday_verdict,
                "weekday": self.weekday.to_dicts(), "monthly": self.monthly.to_dicts(),
                "effects": self.effects.to_dicts(), "holidays": self.holidays.to_dicts()}


def _profile(frame: pl.DataFrame, key: str, names: list[str], offset: int) -> pl.DataFrame:
    overall = frame["Qty"].mean()
    return (
        frame.group_by(key).agg(pl.len().alias("days"), pl.col("Qty").mean().alias("mean_qty")).sort(key)
        .with_columns(
            pl.col(key).map_elements(lambda i: names[i - offset], return_dtype=pl.String).alias("name"),
            (pl.col("mean_qty") / overall if overall else pl.lit(float("nan"))).alias("index"),
        ).select(key, "name", "days", "mean_qty", "index")
    )


def _effect(name: str, frame: pl.DataFrame, mask: str, what: str) -> dict:
    from scipy import stats

    inside = frame.filter(pl.col(mask))["ratio"].drop_nans().to_numpy()
    outside = frame.filter(~pl.col(mask) & ~pl.col("is_holiday") & ~pl.col("is_payday"))["ratio"].drop_nans().to_numpy()
    row = {"effect": name, "days": int(inside.size), "mean_qty": float(frame.filter(pl.col(mask))["Qty"].mean() or float("nan")),
           "lift_pct": float("nan"), "p_value": float("nan")}
    if inside.size < 3 or outside.size < 3:
        row["verdict"] = f"Too few {what} in this window ({inside.size}) to measure an effect; widen the window."
        return row
    lift = 100.0 * (inside.mean() / outside.mean() - 1.0)
    p = float(stats.ttest_ind(inside, outside, equal_var=False).pvalue) if np.var(inside) + np.var(outside) > 0 else float("nan")
    row.update(lift_pct=float(lift), p_value=p)
    if math.isfinite(p) and p < 0.05:
        row["verdict"] = (f"{what[0].upper() + what[1:]} sell {abs(lift):.0f}% {'more' if lift > 0 else 'less'} than an ordinary day "
                          f"of the same weekday ({format_p(p)}, {inside.size} days): give the model a {name.lower()} column.")
    else:
        row["verdict"] = (f"No clear {name.lower()} effect ({lift:+.0f}%, {format_p(p)}, {inside.size} days): "
                          f"a {name.lower()} column is unlikely to help here.")
    return row


def patterns(ds: Dataset, store: int, product: int | None = None,
             start: dt.date | None = None, end: dt.date | None = None) -> Patterns:
    """Weekday and month profiles, payday / holiday / day-before-holiday effects of the series in the window."""
    s = daily_series(ds, store, product, start, end)
    holidays = ds.holidays.select("Date", "Holiday")
    before = holidays.select((pl.col("Date") - pl.duration(days=1)).alias("Date"), pl.lit(True).alias("is_eve"))
    frame = (
        s.join(holidays, on="Date", how="left").join(before.unique("Date"), on="Date", how="left")
        .with_columns(
            (pl.col("Date").dt.weekday() - 1).alias("weekday"), pl.col("Date").dt.month().alias("month"),
            pl.col("Holiday").is_not_null().alias("is_holiday"), pl.col("is_eve").fill_null(False),
            is_payday_expr(pl.col("Date")).alias("is_payday"), is_closed_expr(pl.col("Date")).alias("is_closed"),
        )
        .filter(~pl.col("is_closed"))
    )
    if frame.height < 14:
        raise ValueError(f"the window has only {frame.height} open days; pick at least two weeks.")
    frame = frame.with_columns((pl.col("Qty") / pl.col("Qty").filter(~pl.col("is_holiday")).mean().over("weekday")).alias("ratio"))
    weekday = _profile(frame, "weekday", WEEKDAYS, 0).rename({"name": "day"})
    monthly = _profile(frame, "month", MONTHS, 1)
    label = series_label(ds, store, product)
    hi, lo = weekday.sort("index")[-1], weekday.sort("index")[0]
    spread = float(hi["index"][0] / lo["index"][0] - 1) if lo["index"][0] else float("nan")
    weekday_verdict = (f"{hi['day'][0]} sells the most ({hi['index'][0]:.2f}× an average day) and {lo['day'][0]} the least "
                       f"({lo['index'][0]:.2f}×): a {spread:.0%} swing, so " +
                       ("the weekday must be a model column." if spread > 0.1 else "the weekday matters little here."))
    if monthly.height >= 2:
        mh, ml = monthly.sort("index")[-1], monthly.sort("index")[0]
        monthly_verdict = (f"{mh['name'][0]} is the strongest month ({mh['index'][0]:.2f}×) and {ml['name'][0]} the weakest ({ml['index'][0]:.2f}×)"
                           + ("" if monthly.height == 12 else f"; only {monthly.height} months in this window, so the yearly shape is partial") + ".")
    else:
        monthly_verdict = "The window covers a single month: pick a longer window to see the yearly shape."
    effects = pl.DataFrame([
        _effect("Payday", frame, "is_payday", "paydays (15th and month end)"),
        _effect("Holiday", frame, "is_holiday", "holidays"),
        _effect("Day before a holiday", frame, "is_eve", "days before a holiday"),
    ], schema={"effect": pl.String, "days": pl.Int64, "mean_qty": pl.Float64, "lift_pct": pl.Float64, "p_value": pl.Float64, "verdict": pl.String})
    ordinary = frame.filter(~pl.col("is_holiday") & ~pl.col("is_payday"))["ratio"].mean() or float("nan")
    per_holiday = (
        frame.filter(pl.col("is_holiday")).group_by("Holiday")
        .agg(pl.len().alias("days"), pl.col("Qty").mean().alias("mean_qty"), ((pl.col("ratio").mean() / ordinary - 1) * 100).alias("lift_pct"))
        .sort("lift_pct", descending=True)
    )
    big = per_holiday.filter(pl.col("lift_pct").abs() >= 15)
    if per_holiday.height == 0:
        holiday_verdict = "No holiday falls in this window."
    elif big.height and big["lift_pct"].max() > 0 and big["lift_pct"].min() < 0:
        top, bottom = per_holiday.row(0, named=True), per_holiday.row(-1, named=True)
        holiday_verdict = (f"Holidays pull in opposite directions ({top['Holiday']} {top['lift_pct']:+.0f}%, "
                           f"{bottom['Holiday']} {bottom['lift_pct']:+.0f}%): one holiday flag averages them out; "
                           "give the model the holiday's name (or an up/down holiday column).")
    elif big.height:
        holiday_verdict = (f"{big.height} holiday(s) move sales by 15% or more, all in the same direction "
                           f"(largest: {big.row(0, named=True)['Holiday']} {big['lift_pct'][0]:+.0f}%): a holiday column helps.")
    else:
        holiday_verdict = "No holiday moves sales by 15% or more after the weekday is taken into account."
    return Patterns(label, s["Date"].min(), s["Date"].max(), weekday, monthly, effects, per_holiday,
                    weekday_verdict, monthly_verdict, holiday_verdict)
