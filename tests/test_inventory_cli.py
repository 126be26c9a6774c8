"""`python -m engine inventory` and `python -m engine orders`: --json equals the engine; errors are one sentence."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engine.cli import main
from engine.inventory import evaluate_policy
from engine.ordering.sheet import order_sheet

CHEAP = "weekday_mean4"


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_inventory_json_equals_the_engine(demo_dir, demo, tmp_path, capsys):
    out = _json(capsys, ["inventory", "--data", str(demo_dir), "--store", "44", "--products", "3,12", "--test-start", "2017-03-01",
                         "--test-end", "2017-03-10", "--safety-stock", "min-zero-loss", "--form", "constant", "--model", CHEAP,
                         "--models-dir", str(tmp_path), "--json"])
    r = evaluate_policy(demo, 44, [3, 12], dt.date(2017, 3, 1), dt.date(2017, 3, 10), "min-zero-loss", form="constant", model=CHEAP,
                        models_dir=tmp_path)
    assert [x["product"] for x in out["results"]] == [3, 12]
    for got, p in zip(out["results"], r.products):
        assert got["store"] == 44 and got["safety_form"] == "constant"
        assert got["safety_stock"] == pytest.approx(p.safety_stock)
        assert got["avg_stock_qty"] == pytest.approx(p.kpis["avg_stock_qty"])
        assert got["avg_inventory_value"] == pytest.approx(p.kpis["avg_inventory_value"])
        assert got["lost_qty"] == 0 and got["fill_rate"] == 1.0
        assert got["bound_avg_stock_qty"] == pytest.approx(p.bound["avg_stock_qty"])
        assert got["ratio_to_bound"] == pytest.approx(p.ratio_to_bound)
        assert len(got["days"]) == 10 and got["days"][0]["date"] == "2017-03-01"
        assert [d["closing"] for d in got["days"]] == pytest.approx(p.days["closing"].to_list())
        assert [d["order"] for d in got["days"]] == pytest.approx(p.days["order"].to_list())
    assert out["total"]["avg_inventory_value"] == pytest.approx(r.total["avg_inventory_value"])


def test_inventory_table_and_fixed_safety_stock(demo_dir, tmp_path, capsys):
    assert main(["inventory", "--data", str(demo_dir), "--products", "3", "--test-start", "2017-03-01", "--test-end", "2017-03-07",
                 "--safety-stock", "250", "--pack-size", "12", "--model", CHEAP, "--models-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "ratio_to_bound" in text and "fixed 250 units" in text and "pack size 12" in text


def test_orders_json_equals_the_engine(demo_dir, demo, tmp_path, capsys):
    out = _json(capsys, ["orders", "--data", str(demo_dir), "--store", "44", "--date", "2017-03-15", "--products", "3,42",
                         "--closing-stock", "3=1200", "--model", CHEAP, "--models-dir", str(tmp_path), "--json"])
    sheet = order_sheet(demo, 44, dt.date(2017, 3, 15), products=[3, 42], closing_stock={3: 1200}, model=CHEAP, models_dir=tmp_path)
    assert out == json.loads(json.dumps(sheet.to_dict()))
    assert out["lines"][0]["closing_source"] == "counted" and out["lines"][0]["closing_stock"] == 1200


def test_cli_errors_are_one_sentence(demo_dir, tmp_path, capsys):
    assert main(["orders", "--data", str(demo_dir), "--date", "2017-04-15", "--products", "3", "--model", CHEAP,
                 "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 2017-04-15 is after the last day of data") and err.count("\n") == 1
    assert main(["inventory", "--data", str(demo_dir), "--products", "3", "--test-start", "2017-03-01", "--test-end", "2017-03-07",
                 "--safety-stock", "plenty", "--model", CHEAP, "--models-dir", str(tmp_path)]) == 2
    assert "unknown safety stock 'plenty'" in capsys.readouterr().err
    assert main(["orders", "--data", str(demo_dir), "--products", "3", "--closing-stock", "3:5", "--model", CHEAP,
                 "--models-dir", str(tmp_path)]) == 2
    assert "PRODUCT=COUNT" in capsys.readouterr().err
