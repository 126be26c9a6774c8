"""The order sheet: recommend_order's arithmetic and reason, order_sheet for store 44 with a counted closing stock."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from engine.inventory import evaluate_policy
from engine.ordering.sheet import OrderSheet, order_sheet, recommend_order, sim_start

DATE = dt.date(2017, 3, 15)
CHEAP = "weekday_mean4"


def test_recommend_order_reason_string():
    qty, reason = recommend_order([10_700, 10_700], 2_100, 9_800, 10_500)
    assert qty == 3_200
    assert reason == "forecast 2 days = 21,400 + safety 2,100 − on hand 9,800 − in transit 10,500 = 3,200"


def test_recommend_order_never_negative_and_packs():
    qty, reason = recommend_order([10, 10], 2, 30, 0)
    assert qty == 0 and reason.endswith("= −8 → order 0 (enough stock)")
    qty, reason = recommend_order([10, 10.4], 2, 3, 0, pack_size=6)
    assert qty == 24 and reason.endswith("= 19 → 24 (packs of 6)")
    qty, reason = recommend_order([7], 0, 2, 0)
    assert qty == 5 and reason == "forecast 1 day = 7 + safety 0 − on hand 2 − in transit 0 = 5"
    qty, _ = recommend_order([7.2], 0, 2, 0)
    assert qty == 6  # 5.2 rounded up to whole units


def test_sim_start_is_the_first_of_the_previous_month():
    assert sim_start(dt.date(2017, 3, 15)) == dt.date(2017, 2, 1)
    assert sim_start(dt.date(2017, 1, 1)) == dt.date(2016, 12, 1)


@pytest.fixture(scope="module")
def sheet(demo, tmp_path_factory):
    return order_sheet(demo, 44, DATE, model=CHEAP, models_dir=tmp_path_factory.mktemp("ordering_models")), demo


def test_sheet_for_store_44_has_every_product(sheet):
    s, demo = sheet
    sold = sorted(demo.sales.filter(pl.col("Store_ID") == 44)["Product_ID"].unique().to_list())
    assert [ln.product for ln in s.lines] == sold and len(sold) == 24
    for ln in s.lines:
        assert ln.lead_time == demo.lead_time(ln.product) and len(ln.forecasts) == ln.lead_time
        assert ln.closing_source == "simulated" and ln.closing_stock >= 0 and ln.in_transit >= 0
        assert ln.recommended >= 0 and ln.model == CHEAP
        qty, reason = recommend_order(ln.forecasts, ln.safety_stock, ln.closing_stock, ln.in_transit, ln.pack_size)
        assert (ln.recommended, ln.reason) == (qty, reason)
        assert ln.safety_form.startswith("service level 99%")
    frame = s.to_frame()
    width = max(ln.lead_time for ln in s.lines)
    assert frame.height == 24 and [f"forecast_d{h}" for h in range(1, width + 1)] == [c for c in frame.columns if c.startswith("forecast_d")]
    assert frame["recommended"].to_list() == [ln.recommended for ln in s.lines]
    out = json.loads(json.dumps(s.to_dict()))
    assert out["store"] == 44 and out["date"] == "2017-03-15" and len(out["lines"]) == 24


def test_sheet_matches_the_simulation_of_the_same_policy(sheet, tmp_path_factory):
    s, demo = sheet
    line = next(ln for ln in s.lines if ln.product == 3)
    # the inventory simulation from the same start through the same close places the same order
    models = tmp_path_factory.mktemp("ordering_models_2")
    r = evaluate_policy(demo, 44, [3], sim_start(DATE), DATE, "service-level:0.99", model=CHEAP, models_dir=models).products[0]
    last = r.days.row(-1, named=True)
    assert last["date"] == DATE
    assert line.closing_stock == last["closing"] and line.in_transit == last["in_transit"]
    assert line.recommended == last["order"]
    assert line.safety_stock == pytest.approx(last["safety_stock"])


def test_counted_closing_stock_wins(sheet, tmp_path_factory):
    s, demo = sheet
    before = {ln.product: ln for ln in s.lines}
    counted = before[3].closing_stock + 1_000
    again = order_sheet(demo, 44, DATE, products=[3, 12], closing_stock={3: counted}, model=CHEAP,
                        models_dir=tmp_path_factory.mktemp("ordering_models_3"))
    p3, p12 = again.lines
    assert p3.closing_source == "counted" and p3.closing_stock == counted and p3.simulated_closing == before[3].closing_stock
    expected, reason = recommend_order(p3.forecasts, p3.safety_stock, counted, p3.in_transit)
    assert p3.recommended == expected == max(0, before[3].recommended - 1_000)
    assert f"on hand {counted:,.0f}" in p3.reason and p3.reason == reason
    assert p12.closing_source == "simulated" and p12.recommended == before[12].recommended


def test_default_date_is_the_last_day_and_errors_are_sentences(demo, tmp_path):
    s = order_sheet(demo, 44, None, products=[3], model=CHEAP, models_dir=tmp_path)
    assert isinstance(s, OrderSheet) and s.date == demo.end
    with pytest.raises(ValueError, match="after the last day of data"):
        order_sheet(demo, 44, demo.end + dt.timedelta(days=1), products=[3], model=CHEAP, models_dir=tmp_path)
    with pytest.raises(ValueError, match="counted closing stock of product 3"):
        order_sheet(demo, 44, DATE, products=[3], closing_stock={3: -5}, model=CHEAP, models_dir=tmp_path)
