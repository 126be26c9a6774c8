"""After the fact: recommended vs chosen vs actual demand, bias and forecast value added (ledger fva)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from engine.ordering.confirmation import confirm_sheet
from engine.ordering.fva import after_the_fact, fva_summary
from engine.ordering.ledger import OrderLedger
from engine.ordering.sheet import OrderLine, OrderSheet
from engine.ordering.stockbook import StockBook, count_stock

ROOT = Path(__file__).resolve().parent.parent


def _sheet(ds, day, forecast, baseline, recommended):
    line = OrderLine(store=44, product=3, date=day, lead_time=2, price=1.0, pack_size=1, closing_stock=0.0, closing_source="book",
                     in_transit=0.0, forecasts=[forecast / 2, forecast / 2], safety_stock=0.0, safety_form="", recommended=recommended,
                     reason="", model="weekday_mean4", baseline=baseline)
    return OrderSheet(44, day, "service-level:0.99", [line])


def _actual(ds, day):
    days = [day + dt.timedelta(days=h) for h in (1, 2)]
    return float(ds.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3) & pl.col("Date").is_in(days))["Qty"].sum())


def test_fva_compares_model_weekday_mean_and_buyer_on_the_actual_demand(demo, tmp_path):
    ledger = OrderLedger(tmp_path / "ledger.sqlite")
    closes = [demo.end - dt.timedelta(days=k) for k in (12, 9, 6)]
    plan = {closes[0]: (9_000, 8_000, 5_000, 5_500), closes[1]: (10_000, 9_500, 6_000, 6_000), closes[2]: (8_500, 9_900, 4_000, 3_000)}
    for day, (forecast, baseline, rec, final) in plan.items():
        confirm_sheet(_sheet(demo, day, forecast, baseline, rec), {3: final}, {3: "rain"}, ledger=ledger, confirmed_by="ana")
    # a second version of the first close replaces the first one
    confirm_sheet(_sheet(demo, closes[0], 9_000, 8_000, 5_000), {3: 5_200}, ledger=ledger)
    plan[closes[0]] = (9_000, 8_000, 5_000, 5_200)
    # an order whose lead window is past the data has no outcome yet
    confirm_sheet(_sheet(demo, demo.end - dt.timedelta(days=1), 9_000, 9_000, 1), ledger=ledger)
    orders = after_the_fact(demo, ledger)
    assert orders["order_date"].to_list() == closes
    actual = [_actual(demo, d) for d in closes]
    assert orders["actual"].to_list() == pytest.approx(actual)
    assert orders["final"].to_list() == [plan[d][3] for d in closes]
    buyer = [plan[d][0] + plan[d][3] - plan[d][2] for d in closes]
    assert orders["buyer"].to_list() == pytest.approx(buyer)
    summary = {r["forecaster"]: r for r in fva_summary(orders).to_dicts()}
    a = sum(actual)

    def wape(f):
        return sum(abs(x - y) for x, y in zip(f, actual)) / a

    model = [plan[d][0] for d in closes]
    base = [plan[d][1] for d in closes]
    assert summary["model"]["bias"] == pytest.approx((sum(model) - a) / a)
    assert summary["model"]["wape"] == pytest.approx(wape(model))
    assert summary["model"]["fva_vs_weekday_mean"] == pytest.approx(1 - wape(model) / wape(base))
    assert summary["buyer"]["fva_vs_model"] == pytest.approx(1 - wape(buyer) / wape(model))
    assert summary["weekday mean"]["fva_vs_weekday_mean"] == pytest.approx(0.0)
    # a censored day inside a lead window takes that order out
    book = StockBook(ledger)
    count_stock(demo, book, 44, 3, closes[2] + dt.timedelta(days=1), 0, by="ana")
    assert after_the_fact(demo, ledger)["order_date"].to_list() == closes[:2]


def test_ledger_fva_cli_prints_the_summary(demo_dir, tmp_path):
    data = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, data)
    from engine.data.dataset import load_dataset

    ds = load_dataset(data)
    ledger = OrderLedger(tmp_path / "data" / "state" / "ledger.sqlite")
    day = ds.end - dt.timedelta(days=5)
    confirm_sheet(_sheet(ds, day, 9_000, 8_000, 5_000), ledger=ledger)
    out = subprocess.run([sys.executable, "-m", "engine", "ledger", "fva", "--data", str(data), "--json"], capture_output=True,
                         text=True, cwd=ROOT, check=True)
    got = json.loads(out.stdout)
    assert [r["forecaster"] for r in got["summary"]] == ["model", "weekday mean", "buyer"]
    assert got["orders"][0]["actual"] == pytest.approx(_actual(ds, day)) and got["orders"][0]["order_date"] == str(day)
