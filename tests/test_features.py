"""Feature builder: values by hand, zero-filled days, neighbours, and the no-look-ahead rule."""

import datetime as dt

import polars as pl
import pytest

from engine.data.dataset import Dataset, load_dataset
from engine.data.features import FEATURE_COLUMNS, build_features, daily_sales, expanding_band, to_long
from tests.helpers import write_folder


@pytest.fixture
def small(tmp_path) -> Dataset:
    return load_dataset(write_folder(tmp_path / "d"))


def test_missing_sales_days_are_zero_and_every_day_is_present(small):
    daily = daily_sales(small, 44, 3)
    assert daily["Date"].to_list() == [dt.date(2017, 1, 2), dt.date(2017, 1, 3), dt.date(2017, 1, 4)]
    assert daily["Qty"].to_list() == [10.0, 7.0, 0.0]


def test_hand_checked_features(small):
    f = build_features(small, 44, 3)
    row = f.filter(pl.col("Date") == dt.date(2017, 1, 3)).row(0, named=True)
    assert row["unique_id"] == "44/3" and row["weekday"] == 1  # Tuesday
    assert row["customers"] == 90 and row["city_customers"] == 0  # store 45 had no visits on the 3rd
    assert row["diff_1"] == -3.0 and row["ma7"] == 8.5
    assert row["oil"] == 52.1  # the empty cell took Monday's price
    assert row["target"] is None  # 2017-01-05 is past the data
    first = f.filter(pl.col("Date") == dt.date(2017, 1, 2)).row(0, named=True)
    assert first["city_customers"] == 50 and first["state_customers"] == 50
    assert first["target"] == 0.0 and first["target_date"] == dt.date(2017, 1, 4)  # LeadTime 2: nothing sold on the 4th
    assert first["is_holiday"] is False


def test_to_long_has_the_statsforecast_contract(small):
    long = to_long(daily_sales(small))
    assert long.columns == ["unique_id", "ds", "y"]
    assert long.filter(pl.col("unique_id") == "44/12")["y"].to_list() == [5.0, 0.0, 0.0]


def test_demo_features_use_lead_time_and_calendar(demo):
    f = build_features(demo, 44, 12)
    xmas = f.filter(pl.col("Date") == dt.date(2016, 12, 25)).row(0, named=True)
    assert xmas["is_closed"] and xmas["Qty"] == 0.0 and xmas["is_holiday"]
    before = f.filter(pl.col("Date") == dt.date(2016, 12, 23)).row(0, named=True)
    assert before["target_is_closed"] and before["target_date"] == dt.date(2016, 12, 25)
    day = f.filter(pl.col("Date") == dt.date(2016, 6, 1)).row(0, named=True)
    expected = f.filter(pl.col("Date") == dt.date(2016, 6, 3))["Qty"].item()
    assert day["target"] == expected and day["lead_time"] == 2
    payday = f.filter(pl.col("Date") == dt.date(2016, 6, 15)).row(0, named=True)
    assert payday["is_payday"] and not f.filter(pl.col("Date") == dt.date(2016, 6, 14))["is_payday"].item()


def test_no_feature_looks_ahead(demo):
    """Change everything after day t: every feature up to t stays identical (target excluded)."""
    t = dt.date(2016, 8, 10)
    after = pl.col("Date") > t
    changed = Dataset(
        sales=demo.sales.with_columns(pl.when(after).then(pl.col("Qty") * 3 + 17).otherwise(pl.col("Qty")).alias("Qty")),
        products=demo.products,
        stores=demo.stores,
        visits=demo.visits.with_columns(pl.when(after).then(pl.col("CustomerCount") * 0.1).otherwise(pl.col("CustomerCount")).alias("CustomerCount")),
        oil_price=demo.oil_price.with_columns(pl.when(after).then(pl.col("WTI_Price") * 5).otherwise(pl.col("WTI_Price")).alias("WTI_Price")),
        holidays=demo.holidays,
    )
    cols = ["Date", "Qty", *FEATURE_COLUMNS]
    for store, product in [(44, 3), (44, 42), (1, 12)]:
        before = build_features(demo, store, product).filter(pl.col("Date") <= t).select(cols)
        later = build_features(changed, store, product).filter(pl.col("Date") <= t).select(cols)
        assert before.equals(later), (store, product)
        # and the change is real: the target near t does move
        moved = build_features(changed, store, product).filter(pl.col("Date") == t)["target"].item()
        assert moved != build_features(demo, store, product).filter(pl.col("Date") == t)["target"].item()


def test_oil_band_uses_only_past_prices():
    import numpy as np

    bands = expanding_band(np.array([10.0, 20.0, 30.0, 5.0, np.nan, 100.0]))
    assert bands[0] == 1 and bands[2] == 2 and bands[3] == 0 and np.isnan(bands[4]) and bands[5] == 2
    # a later price cannot change an earlier band
    assert list(expanding_band(np.array([10.0, 20.0, 30.0, 1000.0]))[:3]) == list(bands[:3])
