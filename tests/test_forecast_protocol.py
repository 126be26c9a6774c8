"""The protocol never looks ahead: changing data after (or inside) the test window changes nothing it must not."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.forecasting import AUTO_MODELS, lead_window_forecasts, run_forecast
from engine.forecasting.backtest import folds

CHEAP = "weekday_mean4,seasonal_naive,gboost"


def corrupt_from(ds, day: dt.date, seed: int = 1):
    """Shuffle and scale every sales quantity and customer count dated >= day."""
    rng = np.random.default_rng(seed)
    sales = ds.sales.sort("Date", "Store_ID", "Product_ID")
    late = (sales["Date"] >= day).to_numpy()
    qty = sales["Qty"].to_numpy().copy()
    qty[late] = rng.permutation(qty[late]) * rng.uniform(0.2, 3.0, late.sum())
    orders = ds.visits.sort("Date", "Store_ID")
    olate = (orders["Date"] >= day).to_numpy()
    cust = orders["CustomerCount"].to_numpy().astype(float).copy()
    cust[olate] = rng.permutation(cust[olate])
    return dataclasses.replace(
        ds, sales=sales.with_columns(pl.Series("Qty", qty)),
        visits=orders.with_columns(pl.Series("CustomerCount", cust).cast(orders["CustomerCount"].dtype)),
    )


def test_folds_are_forward_chaining_and_end_before_training_end():
    windows = folds(dt.date(2017, 3, 1), n_folds=3, fold_days=28)
    assert windows[-1][1] == dt.date(2017, 2, 28)
    assert all(a[1] + dt.timedelta(days=1) == b[0] for a, b in zip(windows, windows[1:]))


def test_data_after_the_test_window_changes_nothing(demo, tmp_path):
    start, end = dt.date(2017, 2, 1), dt.date(2017, 2, 28)
    clean = run_forecast(demo, 44, [3], start, end, models=CHEAP, models_dir=tmp_path / "a")[0]
    dirty_ds = corrupt_from(demo, dt.date(2017, 3, 1))
    assert not dirty_ds.sales.equals(demo.sales)
    dirty = run_forecast(dirty_ds, 44, [3], start, end, models=CHEAP, models_dir=tmp_path / "b")[0]
    assert dirty.model == clean.model
    a, b = clean.to_dict(), dirty.to_dict()
    a.pop("fit_seconds"), b.pop("fit_seconds")  # wall-clock time, not a result
    assert a == b
    assert clean.predictions.height == 28


def test_test_window_is_never_used_for_choices(demo, tmp_path):
    start, end = dt.date(2017, 2, 1), dt.date(2017, 2, 28)
    clean = run_forecast(demo, 44, [42], start, end, models=CHEAP, models_dir=tmp_path / "a")[0]
    dirty = run_forecast(corrupt_from(demo, start), 44, [42], start, end, models=CHEAP, models_dir=tmp_path / "b")[0]
    assert dirty.model == clean.model and dirty.params == clean.params and dirty.validation == clean.validation
    assert dirty.models != clean.models  # the test metrics do see the changed actuals


def test_forecast_at_t_uses_observations_up_to_t_only(demo, tmp_path):
    start, end, cut = dt.date(2017, 3, 1), dt.date(2017, 3, 20), dt.date(2017, 3, 11)
    clean = lead_window_forecasts(demo, 44, 12, start, end, model="gboost", models_dir=tmp_path / "a")
    dirty = lead_window_forecasts(corrupt_from(demo, cut), 44, 12, start, end, model="gboost", models_dir=tmp_path / "b")
    before = pl.col("order_date") < cut
    assert clean.filter(before)["forecast"].to_list() == dirty.filter(before)["forecast"].to_list()
    assert clean.filter(~before)["forecast"].to_list() != dirty.filter(~before)["forecast"].to_list()


def test_lead_window_forecasts_shape_and_values(demo, tmp_path):
    start, end = dt.date(2017, 3, 25), dt.date(2017, 3, 31)
    out = lead_window_forecasts(demo, 44, 3, start, end, models_dir=tmp_path)
    assert out.columns == ["order_date", "horizon", "target_date", "forecast", "actual", "model"]
    assert out.height == 7 * 2  # LeadTime 2: horizons 1 and 2 per order day
    assert out["horizon"].to_list()[:4] == [1, 2, 1, 2]
    assert (out["target_date"] - out["order_date"]).dt.total_days().to_list() == out["horizon"].cast(pl.Int64).to_list()
    assert out["forecast"].min() >= 0
    assert out["model"].n_unique() == 1 and out["model"][0] in (*AUTO_MODELS, "ensemble")
    past = out.filter(pl.col("target_date") > demo.end)
    assert past.height == 3 and past["actual"].null_count() == 3
    known = out.filter(pl.col("target_date") <= demo.end).join(
        demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)).select(pl.col("Date").alias("target_date"), "Qty"), on="target_date")
    assert known["actual"].to_list() == known["Qty"].to_list()


def test_lead_time_above_two_gives_one_row_per_horizon(demo, tmp_path):
    product = next(p for p in demo.product_ids if demo.lead_time(p) == 5)
    store = demo.sales.filter(pl.col("Product_ID") == product)["Store_ID"][0]
    out = lead_window_forecasts(demo, int(store), product, dt.date(2017, 3, 1), dt.date(2017, 3, 2), model="seasonal_naive", models_dir=tmp_path)
    assert out["horizon"].to_list() == [1, 2, 3, 4, 5] * 2


def test_bad_requests_are_one_clear_sentence(demo, tmp_path):
    with pytest.raises(ValueError, match="after the last day of data"):
        lead_window_forecasts(demo, 44, 3, dt.date(2017, 3, 1), dt.date(2017, 4, 10), models_dir=tmp_path)
    with pytest.raises(ValueError, match="too little history"):
        run_forecast(demo, 44, [3], dt.date(2014, 2, 1), dt.date(2014, 2, 10), models_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown model"):
        run_forecast(demo, 44, [3], dt.date(2017, 3, 1), dt.date(2017, 3, 10), models="prophet", models_dir=tmp_path)
