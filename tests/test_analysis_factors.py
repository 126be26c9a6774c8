"""Outside factors: series built from a known factor must show that factor at the right lag."""

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.analysis.factors import FACTORS, factor_analysis, factor_frame
from engine.data.features import customer_features


@pytest.fixture(scope="module")
def synthetic(demo):
    """Store 44: product 3 sells 0.1 × the city neighbours' customers of 3 days earlier;
    product 12 sells 50 × the oil price of the same day (plus a little noise);
    product 42 follows the oil price 2 days later until mid-2015, then moves against it."""
    rng = np.random.default_rng(0)
    cust = customer_features(demo).filter(pl.col("Store_ID") == 44).sort("Date")
    oil = demo.oil_price.sort("Date")
    p3 = cust.select("Date", (0.1 * pl.col("city_customers").shift(3)).alias("Qty")).drop_nulls()
    p12 = oil.select("Date", (50 * pl.col("WTI_Price") + pl.Series(rng.normal(0, 5, oil.height))).alias("Qty"))
    flip = pl.when(pl.col("Date") < dt.date(2015, 7, 1)).then(1.0).otherwise(-1.0)
    p42 = oil.select("Date", (5000 + flip * 50 * pl.col("WTI_Price").shift(2)).alias("Qty")).drop_nulls()
    new = pl.concat([p3.with_columns(pl.lit(3).alias("Product_ID")), p12.with_columns(pl.lit(12).alias("Product_ID")),
                     p42.with_columns(pl.lit(42).alias("Product_ID"))]).with_columns(
        pl.lit(44).alias("Store_ID")).select(demo.sales.columns).cast(demo.sales.schema)
    keep = demo.sales.filter(~((pl.col("Store_ID") == 44) & pl.col("Product_ID").is_in([3, 12, 42])))
    return dataclasses.replace(demo, sales=pl.concat([keep, new]))


def test_city_customers_found_at_lag_3(synthetic):
    a = factor_analysis(synthetic, 44, 3)
    city = a.result("city_customers")
    assert city.best_lag == 3 and city.r_best > 0.99
    assert city.lag_profile["lag"].to_list() == list(range(15))
    assert city.lag_profile.filter(pl.col("lag") == 0)["r"][0] < city.r_best - 0.05
    assert city.stable and city.rolling_min > 0.95 and city.same_sign_share == 1.0
    assert city.verdict.startswith("Sales move with the customers of the other stores in the same city (strongly, r = +1.00, strongest 3 days later)")
    assert "the link is stable" in city.verdict
    # scatter pairs the sales with the factor 3 days earlier
    sc = city.scatter.drop_nulls().filter(pl.col("value").is_not_nan() & pl.col("Qty").is_not_nan())
    np.testing.assert_allclose(sc["Qty"].to_numpy(), 0.1 * sc["value"].to_numpy(), rtol=1e-9)


def test_oil_level_found_at_lag_0_and_bands_ordered(synthetic):
    a = factor_analysis(synthetic, 44, 12)
    oil = a.result("oil")
    assert oil.best_lag == 0 and oil.r_best > 0.99 and oil.stable
    assert a.band_means["band"].to_list() == ["low", "mid", "high"]
    means = a.band_means["mean_qty"].to_list()
    assert means[0] < means[1] < means[2]
    assert a.band_means["days"].sum() == a.result("oil").lag_profile["n"][0]
    assert a.band_verdict.startswith("Values are highest in the high oil band")
    assert set(a.summary()["factor"]) == set(FACTORS)


def test_no_link_and_unstable_link_sentences(demo, synthetic):
    a = factor_analysis(synthetic, 44, 3)
    oil = a.result("oil")
    assert abs(oil.r_best) < 0.3
    if abs(oil.r_best) < 0.1:
        assert oil.verdict.startswith("No useful link between sales and the oil price")
    flipped = factor_analysis(synthetic, 44, 42).result("oil")
    assert not flipped.stable and flipped.rolling_min < -0.9 and flipped.rolling_max > 0.9
    assert "but the link is not stable" in flipped.verdict and "so do not rely on it" in flipped.verdict
    # inside the first half alone the same link is perfect and stable, at lag 2
    first = factor_analysis(synthetic, 44, 42, start=dt.date(2014, 1, 1), end=dt.date(2015, 6, 30), rolling_window=30).result("oil")
    assert first.best_lag == 2 and first.r_best > 0.99 and first.stable
    assert first.rolling.height == (dt.date(2015, 6, 30) - dt.date(2014, 1, 1)).days + 1


def test_window_and_transform_change_the_numbers(demo):
    whole = factor_analysis(demo, 44, 3)
    short = factor_analysis(demo, 44, 3, start=dt.date(2016, 1, 1), end=dt.date(2016, 3, 31))
    assert short.result("customers").lag_profile["n"][0] < whole.result("customers").lag_profile["n"][0]
    assert short.result("customers").r_lag0 != pytest.approx(whole.result("customers").r_lag0)
    changes = factor_analysis(demo, 44, 3, transform="change_7d")
    assert changes.result("customers").r_lag0 < whole.result("customers").r_lag0  # the shared weekday pattern is gone
    assert changes.result("customers").verdict.startswith("Week-on-week changes of sales")
    other = factor_analysis(demo, 44, 12, frame=factor_frame(demo, 44, 12))
    assert other.result("customers").r_lag0 != pytest.approx(whole.result("customers").r_lag0)


def test_customers_target_answers_the_neighbours_question(demo):
    a = factor_analysis(demo, 44, None, target="customers")
    assert "customers" not in a.summary()["factor"].to_list()
    city = a.result("city_customers")
    assert city.r_lag0 > 0.5  # the demo's customers are city-correlated
    assert city.verdict.startswith("The store's customers move with the customers of the other stores in the same city")


def test_bad_arguments_are_clear(demo):
    with pytest.raises(ValueError, match="unknown transform"):
        factor_analysis(demo, 44, 3, transform="log")
    with pytest.raises(ValueError, match="pick at least 30 days"):
        factor_analysis(demo, 44, 3, start=dt.date(2016, 1, 1), end=dt.date(2016, 1, 10))


def test_store_alone_in_its_city_gets_a_plain_sentence(demo):
    counts = demo.stores.group_by("City", "State").len()
    alone_city = counts.filter(pl.col("len") == 1).join(demo.stores, on=["City", "State"])["Store_ID"].to_list()
    store = next(s for s in alone_city if s in demo.store_ids)
    city = factor_analysis(demo, store, 3).result("city_customers")
    assert np.isnan(city.r_best) and not city.stable
    assert city.verdict.startswith("There is no other store to compare with (the customers of the other stores in the same city are always 0")
