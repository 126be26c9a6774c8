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
