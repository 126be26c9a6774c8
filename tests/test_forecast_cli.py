"""`python -m engine forecast`: JSON shape, numbers consistent with the printed predictions, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.forecasting import metrics as M


def test_forecast_json_is_reproducible_from_its_predictions(demo_dir, tmp_path, capsys):
    argv = ["forecast", "--data", str(demo_dir), "--store", "44", "--products", "3,42", "--test-start", "2017-03-01",
            "--test-end", "2017-03-14", "--models", "seasonal_naive,gboost", "--models-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["product"] for r in out["results"]] == [3, 42]
    for r in out["results"]:
        assert r["store"] == 44 and set(r["models"]) >= {"weekday_mean4", "seasonal_naive", "gboost"}
        assert r["model"] in r["models"]
        preds = r["predictions"]
        assert [p["date"] for p in preds][0] == "2017-03-01" and len(preds) == 14
        y = np.array([p["actual"] for p in preds])
        f = np.array([p["forecast"] for p in preds])
        assert r["wape"] == pytest.approx(M.wape(y, f)) and r["rmse"] == pytest.approx(M.rmse(y, f))
        assert r["models"][r["model"]]["mae"] == pytest.approx(M.mae(y, f))
        assert all(k in r for k in ("rmse", "mae", "wape", "smape", "mase", "r2"))
    # the table form names the chosen model
    assert main(argv[:-1]) == 0
    text = capsys.readouterr().out
    assert "chosen" in text and "store 44 product 3 (lead time 2 days)" in text


def test_forecast_errors_are_one_sentence(demo_dir, tmp_path, capsys):
    code = main(["forecast", "--data", str(demo_dir), "--products", "3", "--test-start", "2017-03-01", "--test-end", "2017-05-01",
                 "--models-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the test window ends after the data") and "Traceback" not in err
    code = main(["forecast", "--data", str(demo_dir), "--products", "3,x", "--test-start", "2017-03-01", "--test-end", "2017-03-02"])
    assert code == 2 and "--products must be product ids" in capsys.readouterr().err


def test_forecast_next_json_is_the_lead_window_forecast(demo_dir, tmp_path, capsys):
    from engine.data.dataset import load_dataset
    from engine.forecasting.lead_window import forecast_lead_window

    argv = ["forecast", "next", "--data", str(demo_dir), "--store", "44", "--products", "3", "--models", "weekday_mean4",
            "--models-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    ds = load_dataset(demo_dir)
    q = forecast_lead_window(ds, 44, 3, ds.end, model="weekday_mean4", models_dir=tmp_path).to_dict()
    assert out["close"] == str(ds.end) and len(out["forecasts"]) == 1
    got = out["forecasts"][0]
    assert got["days"] == q["days"] and got["point"] == pytest.approx(q["point"])
    for level in ("P50", "P90", "P99"):
        assert got["total_quantiles"][level] == pytest.approx(q["total_quantiles"][level])
    assert all(a <= b for a, b in zip(list(got["total_quantiles"].values()), list(got["total_quantiles"].values())[1:]))
    for e in got["explanation"]:
        assert e["baseline"] + sum(e["contributions"].values()) == pytest.approx(e["forecast"])
    # a backtest without its window is one sentence
    assert main(["forecast", "--data", str(demo_dir), "--products", "3"]) == 2
    assert "needs --test-start and --test-end" in capsys.readouterr().err
