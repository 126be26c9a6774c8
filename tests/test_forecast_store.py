"""Saved models: round trip, reuse when nothing changed, retrain when the training data changed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl

from engine.forecasting.series import Series
from engine.forecasting.store import ModelStore
from engine.forecasting.training import train_model, train_models


def test_round_trip_gives_the_same_forecasts_and_metadata(demo, tmp_path):
    start = dt.date(2017, 2, 1)
    series = Series(demo, 44, 3)
    store = ModelStore(tmp_path)
    first = train_model("gboost", series, (2,), start, store)
    assert not first.reused and (first.path / "model.pkl").exists()
    meta = json.loads((first.path / "meta.json").read_text())
    assert meta["data_fingerprint"] == demo.fingerprint and meta["train_end"] == "2017-02-01"
    assert meta["params"] == first.cv.params and "same_wd_mean4" in meta["features"]
    assert meta["cv"]["score"] == first.cv.score
    again = train_model("gboost", series, (2,), start, store)
    assert again.reused and again.fit_seconds == 0.0
    origins = [dt.date(2017, 2, d) for d in range(1, 20)]
    assert np.array_equal(again.model.predict(series, origins), first.model.predict(series, origins))
    assert again.cv.score == first.cv.score
    assert again.cv.predictions.equals(first.cv.predictions)


def test_changed_training_data_is_retrained(demo, tmp_path):
    start = dt.date(2017, 2, 1)
    train_models(["weekday_mean4", "gboost"], Series(demo, 44, 3), (2,), start, tmp_path)
    trained, _ = train_models(["weekday_mean4", "gboost"], Series(demo, 44, 3), (2,), start, tmp_path)
    assert all(t.reused for t in trained.values())
    # data on or after the training end does not force a retrain
    later = dataclasses.replace(demo, sales=demo.sales.with_columns(
        pl.when(pl.col("Date") >= start).then(pl.col("Qty") * 2).otherwise(pl.col("Qty")).alias("Qty")))
    trained, _ = train_models(["weekday_mean4", "gboost"], Series(later, 44, 3), (2,), start, tmp_path)
    assert all(t.reused for t in trained.values())
    changed = dataclasses.replace(demo, sales=demo.sales.with_columns(
        pl.when(pl.col("Date") == dt.date(2016, 6, 1)).then(pl.col("Qty") + 100).otherwise(pl.col("Qty")).alias("Qty")))
    trained, _ = train_models(["weekday_mean4", "gboost"], Series(changed, 44, 3), (2,), start, tmp_path)
    assert not any(t.reused for t in trained.values())

def test_a_broken_saved_model_is_retrained_not_fatal(demo, tmp_path):
    start = dt.date(2017, 2, 1)
    first = train_model("seasonal_naive", Series(demo, 44, 3), (2,), start, ModelStore(tmp_path))
    (first.path / "model.pkl").write_bytes(b"not a pickle")
    again = train_model("seasonal_naive", Series(demo, 44, 3), (2,), start, ModelStore(tmp_path))
    assert not again.reused and again.cv.score == first.cv.score


def test_saved_lists_every_saved_models_metadata_and_skips_unfinished_ones(tmp_path):
    store = ModelStore(tmp_path / "models")
    assert store.saved() == []  # no folder yet: nothing, and nothing created
    assert not (tmp_path / "models").exists()
    store.save("a", {"weights": [1]}, {"store": 44, "product": 3, "model": "weekday_mean4"})
    store.save("b", {"weights": [2]}, {"store": 44, "product": 12, "model": "pooled_lgbm"})
    (tmp_path / "models" / ".c.tmp-1").mkdir()
    (tmp_path / "models" / ".c.tmp-1" / "meta.json").write_text('{"store": 45}')  # a save in progress
    (tmp_path / "models" / "broken").mkdir()
    (tmp_path / "models" / "broken" / "meta.json").write_text("{not json")
    assert [(m["store"], m["product"], m["model"]) for m in store.saved()] == [(44, 3, "weekday_mean4"), (44, 12, "pooled_lgbm")]
