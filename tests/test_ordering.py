"""The order sheet: recommend_order's arithmetic and reason, order_sheet for store 44 (forecast of a model trained up
to the close, order up to a quantile of lead-window demand) with a counted closing stock."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from engine.forecasting.quantiles import conformal_quantile
from engine.inventory.quantile_policy import expected_shortage, fenced, holding_cost, level_for, parse_policy
from engine.ordering.close_forecast import close_quantiles
from engine.ordering.sheet import OrderSheet, order_sheet, recommend_order

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


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.mktemp("ordering_models")


@pytest.fixture(scope="module")
def sheet(demo, models):
    return order_sheet(demo, 44, DATE, model=CHEAP, models_dir=models), demo


def test_sheet_for_store_44_has_every_product(sheet):
    s, demo = sheet
    sold = sorted(demo.sales.filter(pl.col("Store_ID") == 44)["Product_ID"].unique().to_list())
    assert [ln.product for ln in s.lines] == sold and len(sold) == 24
    for ln in s.lines:
        assert ln.lead_time == demo.lead_time(ln.product) and len(ln.forecasts) == ln.lead_time
        assert ln.closing_source == "estimated" and ln.in_transit_source == "estimated"  # no stock book beside the demo
        assert ln.closing_stock >= 0 and ln.in_transit >= 0
        assert ln.recommended >= 0 and ln.model == CHEAP
        qty, reason = recommend_order(ln.forecasts, ln.safety_stock, ln.closing_stock, ln.in_transit, ln.pack_size)
        assert (ln.recommended, ln.reason) == (qty, reason)
        assert ln.why_level.startswith(f"order up to P{ln.level * 100:g} of the {ln.lead_time}-day demand")
        assert ln.safety_stock == pytest.approx(max(0.0, ln.order_up_to - sum(ln.forecasts)))
    frame = s.to_frame()
    width = max(ln.lead_time for ln in s.lines)
    assert frame.height == 24 and [f"forecast_d{h}" for h in range(1, width + 1)] == [c for c in frame.columns if c.startswith("forecast_d")]
    assert frame["recommended"].to_list() == [ln.recommended for ln in s.lines]
    out = json.loads(json.dumps(s.to_dict()))
    assert out["store"] == 44 and out["date"] == "2017-03-15" and len(out["lines"]) == 24


def test_the_sheet_orders_up_to_the_quantile_of_a_model_trained_up_to_the_close(sheet, models):
    s, demo = sheet
    line = next(ln for ln in s.lines if ln.product == 3)
    q = close_quantiles(demo, 44, 3, DATE, model=CHEAP, models_dir=models)
    assert line.forecasts == pytest.approx(list(q.point)) and q.origin == DATE
    # the model saw the close itself: its saved training end is the day after
    meta = [json.loads(m.read_text()) for m in models.glob("s44_p3_*/meta.json")]
    assert {m["train_end"] for m in meta} == {str(DATE + dt.timedelta(days=1))}
    # level: the lowest grid level whose expected shortage on the errors is <= 1 % of the mean daily demand of 84 days
    sales = demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3) & (pl.col("Date") <= DATE)
                              & (pl.col("Date") > DATE - dt.timedelta(days=84)))
    mean = sales["Qty"].sum() / 84
    totals = fenced(q.total_errors())
    raw = q.total_errors()
    q1, q3 = np.quantile(raw, [0.25, 0.75])
    assert totals.max() <= q3 + 2 * (q3 - q1) + 1e-9 and totals.min() >= q1 - 2 * (q3 - q1) - 1e-9
    assert expected_shortage(totals, conformal_quantile(totals, line.level)) <= 0.01 * mean
    lower = round(line.level - 0.005, 3)
    if lower >= 0.5:
        assert expected_shortage(totals, conformal_quantile(totals, lower)) > 0.01 * mean
    assert line.order_up_to == pytest.approx(q.point_total + conformal_quantile(totals, line.level))


def test_cost_option_picks_the_newsvendor_critical_ratio():
    h = holding_cost(2.0, 5.0)
    assert h == pytest.approx(2.0 * 0.5 * 5.0 / 365)
    level, why = level_for("cost:5", [1.0, 2.0], 10.0, 2.0)
    assert level == pytest.approx(1.0 / (1.0 + h))  # margin 1.00 per unit vs holding h per unit-day
    assert "critical ratio 0.986" in why and "lost margin 1.00" in why
    level, why = level_for("cost", [1.0, 2.0], 10.0, 2.0)  # 25 % a year: 0.9993, capped at 0.999
    assert level == 0.999 and "capped" in why
    level, why = level_for("quantile:0.9", [1.0], 10.0, 2.0)
    assert level == 0.9
    with pytest.raises(ValueError, match="needs the future"):
        level_for("min-zero-loss", [1.0], 1.0, 1.0)


def test_counted_closing_stock_wins(sheet, models):
    s, demo = sheet
    before = {ln.product: ln for ln in s.lines}
    counted = before[3].closing_stock + 1_000
    again = order_sheet(demo, 44, DATE, products=[3, 12], closing_stock={3: counted}, model=CHEAP, models_dir=models)
    p3, p12 = again.lines
    assert p3.closing_source == "counted" and p3.closing_stock == counted and p3.simulated_closing == before[3].closing_stock
    expected, reason = recommend_order(p3.forecasts, p3.safety_stock, counted, p3.in_transit)
    assert p3.recommended == expected == max(0, before[3].recommended - 1_000)
    assert f"on hand {counted:,.0f}" in p3.reason and p3.reason == reason
    assert p12.closing_source == "estimated" and p12.recommended == before[12].recommended


def test_default_date_is_the_last_day_and_errors_are_sentences(demo, tmp_path):
    s = order_sheet(demo, 44, None, products=[3], model=CHEAP, models_dir=tmp_path)
    assert isinstance(s, OrderSheet) and s.date == demo.end
    with pytest.raises(ValueError, match="after the last day of data"):
        order_sheet(demo, 44, demo.end + dt.timedelta(days=1), products=[3], model=CHEAP, models_dir=tmp_path)
    with pytest.raises(ValueError, match="counted closing stock of product 3"):
        order_sheet(demo, 44, DATE, products=[3], closing_stock={3: -5}, model=CHEAP, models_dir=tmp_path)


def test_one_off_shocks_are_clipped_to_two_interquartile_ranges():
    e = np.array([*np.arange(0.0, 20.0), 500.0, -400.0])
    q1, q3 = np.quantile(e, [0.25, 0.75])
    out = fenced(e)
    assert out.max() == pytest.approx(q3 + 2 * (q3 - q1)) and out.min() == pytest.approx(q1 - 2 * (q3 - q1))
    assert out[:20] == pytest.approx(e[:20])  # the ordinary errors are left as they are


def test_policy_specs_parse_like_the_simulation_specs():
    assert parse_policy("service-level") == ("fill", 0.99) and parse_policy("quantile:95") == ("quantile", 0.95)
    assert parse_policy("cost") == ("cost", 0.25) and parse_policy(" 40 ") == ("fixed", 40.0)
    for bad, words in (("quantile:2", "must be a share"), ("plenty", "unknown safety stock"), ("-3", "0 or more"),
                       ("hindsight", "needs the future")):
        with pytest.raises(ValueError, match=words) as exc:
            parse_policy(bad)
        assert exc.value.args[0].endswith(".")
