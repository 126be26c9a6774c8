"""LSTM and CNN with tiny settings: scaled, seeded (repeatable), early stopping, saved and reloaded."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from engine.forecasting.series import Series

TINY = {"window": 14, "units": 4, "epochs": 3, "patience": 1, "batch_size": 128, "learning_rate": 1e-2, "val_days": 28, "seed": 3}


@pytest.fixture
def tiny(monkeypatch):
    from engine.forecasting.models.neural import CNN, LSTM

    monkeypatch.setattr(LSTM, "param_grid", (TINY,))
    monkeypatch.setattr(CNN, "param_grid", (TINY,))
    return LSTM, CNN


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm", "cnn"])
def test_neural_fit_is_repeatable_and_round_trips(demo, tiny, tmp_path, name):
    from engine.forecasting.store import ModelStore
    from engine.forecasting.training import train_model

    series = Series(demo, 44, 42)
    start = dt.date(2017, 2, 1)
    events = []
    first = train_model(name, series, (1, 2), start, ModelStore(tmp_path / "a"), progress=lambda n, f, m: events.append((n, f, m)))
    origins = [dt.date(2017, 2, d) for d in range(1, 11)]
    pred = first.model.predict(series, origins)
    assert pred.shape == (10, 2) and np.isfinite(pred).all()
    assert any("epoch" in m for _, _, m in events) and events[-1][1] == 1.0  # Keras callbacks fed the progress
    assert 1 <= first.model.epochs_run <= TINY["epochs"]
    # same seed, fresh folder: same network
    second = train_model(name, series, (1, 2), start, ModelStore(tmp_path / "b"))
    assert np.allclose(second.model.predict(series, origins), pred, rtol=1e-5, atol=1e-3)
    # reloaded from disk instead of retrained
    again = train_model(name, series, (1, 2), start, ModelStore(tmp_path / "a"))
    assert again.reused and (again.path / "net.keras").exists()
    assert np.allclose(again.model.predict(series, origins), pred, rtol=1e-6, atol=1e-4)
    meta = json.loads((again.path / "meta.json").read_text())
    assert meta["window"] == TINY["window"] and meta["features"][0] == "Qty"


@pytest.mark.slow
def test_neural_scalers_come_from_training_rows_only(demo, tiny):
    import dataclasses

    import polars as pl

    LSTM, _ = tiny
    start = dt.date(2016, 6, 1)
    later_x10 = dataclasses.replace(demo, sales=demo.sales.with_columns(
        pl.when(pl.col("Date") >= start).then(pl.col("Qty") * 10).otherwise(pl.col("Qty")).alias("Qty")))
    a = LSTM().fit(Series(demo, 44, 3).before(start), (2,))
    b = LSTM().fit(Series(later_x10, 44, 3).before(start), (2,))
    assert np.array_equal(a._seq_mean, b._seq_mean) and np.array_equal(a._y_std, b._y_std)
    train_qty = Series(demo, 44, 3).before(start).qty
    assert 0.5 * train_qty.mean() < a._seq_mean[0] < 1.5 * train_qty.mean()  # channel 0 is Qty, in training units
