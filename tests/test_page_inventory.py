"""AppTest of the Inventory page: the KPI tiles and tables are the engine's numbers; the what-if slider moves them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "4_Inventory.py")
START, END = dt.date(2017, 3, 1), dt.date(2017, 3, 14)


def _tiles(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _expected_tiles(total) -> dict:
    return {"Average inventory value": f"{total['avg_inventory_value']:,.0f}", "Turnover": f"{total['turnover']:.1f}",
            "Lost sales": f"{total['lost_qty']:,.0f} units", "Fill rate": f"{total['fill_rate']:.1%}",
            "Ratio to the bound": f"{total['ratio_to_bound']:.2f}×"}


def test_page_shows_the_engine_numbers_and_the_slider_moves_them(fresh_data):
    from engine.data.dataset import load_dataset
    from engine.forecasting.store import default_models_dir
    from engine.inventory import compare_policies, evaluate_policy

    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    assert not at.exception
    at.multiselect(key="products").set_value([3])
    at.date_input(key="period").set_value((START, END))
    at.selectbox(key="model").set_value("weekday_mean4")
    at.selectbox(key="form").set_value("constant")
    at.run()
    assert "press **Simulate**" in at.info[0].value and not at.metric
    at.button(key="simulate").click().run()
    assert not at.exception and not at.error
    ds = load_dataset(fresh_data)
    models = default_models_dir(ds)

    def engine(spec):
        return evaluate_policy(ds, 44, [3], START, END, spec, form="constant", model="weekday_mean4", models_dir=models)

    at99 = engine("service-level:0.99")
    assert _tiles(at) == _expected_tiles(at99.total)
    table = at.dataframe[0].value
    row = table[table["product"] == "3"].iloc[0]
    assert row["avg_stock_qty"] == pytest.approx(at99.products[0].kpis["avg_stock_qty"])
    assert row["ratio_to_bound"] == pytest.approx(at99.products[0].ratio_to_bound)
    comparison = at.dataframe[1].value
    expected = compare_policies(ds, 44, [3], START, END, fixed=1000.0, form="constant", model="weekday_mean4", models_dir=models)
    assert list(comparison["policy"]) == expected["policy"].to_list()
    assert list(comparison["avg_inventory_value"]) == pytest.approx(expected["avg_inventory_value"].to_list())
    assert comparison[comparison["policy"].str.startswith("hindsight")]["lost_qty"].iloc[0] == 0

    # what if: a lower service level holds less stock
    at.slider(key="level").set_value(0.85).run()
    assert not at.exception
    at85 = engine("service-level:0.85")
    assert _tiles(at) == _expected_tiles(at85.total)
    assert at85.total["avg_inventory_value"] < at99.total["avg_inventory_value"]
    assert _tiles(at)["Average inventory value"] != _expected_tiles(at99.total)["Average inventory value"]

    # a fixed safety stock with its own slider
    at.selectbox(key="policy").set_value("Fixed safety stock").run()
    at.slider(key="units").set_value(300).run()
    assert not at.exception
    assert _tiles(at) == _expected_tiles(engine("300").total)

    # the order sheet's own rule, each evening's quantile: the page's default form
    at.selectbox(key="policy").set_value("Service level").run()
    at.selectbox(key="form").set_value("sheet").run()
    assert not at.exception and not at.error
    spec = f"service-level:{at.slider(key='level').value}"
    sheet = evaluate_policy(ds, 44, [3], START, END, spec, form="sheet", model="weekday_mean4", models_dir=models)
    assert _tiles(at) == _expected_tiles(sheet.total)
    assert sheet.products[0].days["safety_stock"].n_unique() > 1


def test_the_order_sheets_rule_is_the_default_form(fresh_data):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert at.selectbox(key="form").value == "sheet"


def test_page_explains_a_period_without_history(fresh_data):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.multiselect(key="products").set_value([3])
    at.selectbox(key="model").set_value("weekday_mean4")
    at.date_input(key="period").set_value((dt.date(2014, 2, 1), dt.date(2014, 2, 10)))
    at.button(key="simulate").click().run()
    assert not at.exception
    assert "too little history" in at.error[0].value
