"""Calendar patterns on a synthetic dataset with known effects, and on the demo chain."""

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.analysis.patterns import patterns
from engine.data.calendar import is_payday_expr


@pytest.fixture(scope="module")
def synthetic(demo):
    """The demo chain with store 44 / product 3 replaced by a known series:
    100 a day, Saturdays ×1.5, paydays ×1.3, New Year's Day ×0.5, Christmas Eve ×1.6, closed Dec 25."""
    days = pl.DataFrame({"Date": pl.date_range(demo.start, demo.end, "1d", eager=True)})
    hol = demo.holidays
    f = days.join(hol, on="Date", how="left").with_columns(
        (100.0 * pl.when(pl.col("Date").dt.weekday() == 6).then(1.5).otherwise(1.0)
         * pl.when(is_payday_expr(pl.col("Date"))).then(1.3).otherwise(1.0)
         * pl.when(pl.col("Holiday") == "New Year's Day").then(0.5).when(pl.col("Holiday") == "Christmas Eve").then(1.6).otherwise(1.0)
         * pl.when((pl.col("Date").dt.month() == 12) & (pl.col("Date").dt.day() == 25)).then(0.0).otherwise(1.0)
         ).alias("Qty"),
        pl.lit(44, pl.Int32).alias("Store_ID"), pl.lit(3, pl.Int32).alias("Product_ID"),
    ).select(demo.sales.columns)
    other = demo.sales.filter(~((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)))
    return dataclasses.replace(demo, sales=pl.concat([other, f.cast(other.schema)]))


def test_known_weekday_payday_and_holiday_effects(synthetic):
    p = patterns(synthetic, 44, 3)
    wd = p.weekday
    assert wd.height == 7 and wd.sort("index")[-1, "day"] == "Saturday"
    # Saturday is 1.5x the other weekdays (payday/holiday noise is small)
    ratio = wd.filter(pl.col("day") == "Saturday")["mean_qty"][0] / wd.filter(pl.col("day") == "Tuesday")["mean_qty"][0]
    assert ratio == pytest.approx(1.5, rel=0.05)
    assert p.weekday_verdict.startswith("Saturday sells the most") and "must be a model column" in p.weekday_verdict
    pay = p.effects.filter(pl.col("effect") == "Payday").row(0, named=True)
    assert pay["lift_pct"] == pytest.approx(30.0, abs=1.0) and pay["p_value"] < 0.001
    assert pay["verdict"].startswith("Paydays (15th and month end) sell 30% more")
    hol = p.holidays
    assert hol.filter(pl.col("Holiday") == "New Year's Day")["lift_pct"][0] == pytest.approx(-50.0, abs=2.0)
    assert hol.filter(pl.col("Holiday") == "Christmas Eve")["lift_pct"][0] == pytest.approx(60.0, abs=3.0)
    assert "Christmas Day" not in hol["Holiday"].to_list()  # closed days are left out
    assert p.holiday_verdict.startswith("Holidays pull in opposite directions (Christmas Eve +6")


def test_shorter_window_and_other_product_change_the_numbers(demo):
    whole = patterns(demo, 44, 3)
    q = patterns(demo, 44, 3, dt.date(2016, 4, 1), dt.date(2016, 6, 30))
    assert q.start == dt.date(2016, 4, 1) and q.end == dt.date(2016, 6, 30)
    assert q.monthly["month"].to_list() == [4, 5, 6]
    assert "only 3 months" in q.monthly_verdict
    assert q.weekday["days"].sum() == 91
    assert not np.allclose(q.weekday["mean_qty"].to_numpy(), whole.weekday["mean_qty"].to_numpy())
    other = patterns(demo, 44, 12)
    assert other.weekday["mean_qty"].sum() > 2 * whole.weekday["mean_qty"].sum()


def test_store_total_is_the_sum_of_products(demo):
    total = patterns(demo, 44, None)
    one_day = demo.sales.filter((pl.col("Store_ID") == 44)).group_by("Date").agg(pl.col("Qty").sum())
    expected = one_day.filter(~((pl.col("Date").dt.month() == 12) & (pl.col("Date").dt.day() == 25)))["Qty"].sum()
    assert (total.weekday["mean_qty"] * total.weekday["days"]).sum() == pytest.approx(expected, rel=1e-9)
    assert total.label == "store 44, all products"


def test_too_short_window_is_a_clear_error(demo):
    with pytest.raises(ValueError, match="only 7 open days"):
        patterns(demo, 44, 3, dt.date(2016, 5, 1), dt.date(2016, 5, 7))
    with pytest.raises(ValueError, match="is after the end date"):
        patterns(demo, 44, 3, dt.date(2016, 5, 7), dt.date(2016, 5, 1))


def test_describe_series_line(demo):
    from engine.analysis.series import daily_series, describe_series

    s = daily_series(demo, 44, 3)
    text = describe_series(s, demo.start, demo.end, "store 44, product 3")
    mean = s["Qty"].mean()
    assert text.startswith(f"Store 44, product 3 sells {mean:,.0f} units a day on average from {demo.start} to {demo.end}")
    christmases = sum(1 for y in range(demo.start.year, demo.end.year + 1) if demo.start <= dt.date(y, 12, 25) <= demo.end)
    assert f"{christmases} of them Dec 25 (closed)" in text
    last = s.filter(pl.col("Date") > demo.end - dt.timedelta(days=365))["Qty"].sum()
    before = s.filter(pl.col("Date").is_between(demo.end - dt.timedelta(days=729), demo.end - dt.timedelta(days=365)))["Qty"].sum()
    assert f"the last 12 months sold {last / before - 1:+.1%} against the 12 months before." in text
    short = describe_series(s, dt.date(2016, 1, 1), dt.date(2016, 3, 31), "store 44, product 3")
    assert "12 months" not in short and "2016-01-01 to 2016-03-31" in short
