"""AppTest of the Forecast page: it opens on the next days (forecast_lead_window's numbers), the lab shows run_forecast's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "2_Forecast.py")


def _page(next_model: str = "weekday_mean4") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.session_state["next_model"] = next_model  # the opening forecast: a model that needs no fit keeps the lab tests lean
    at.run()
    return at


def _table_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_page_opens_on_the_next_days_with_the_engine_numbers(fresh_data):
    from engine.data.dataset import load_dataset
    from engine.forecasting.lead_window import forecast_lead_window, next_days_table
    from engine.forecasting.store import default_models_dir

    at = _page("seasonal_naive")
    assert not at.exception and not at.error
    ds = load_dataset(fresh_data)
    q = forecast_lead_window(ds, 44, 3, ds.end, model="seasonal_naive", models_dir=default_models_dir(ds))
    expected = next_days_table(q)
    shown = _table_with(at, "P90")
    assert list(shown["day"]) == [str(ds.end + dt.timedelta(days=1)), str(ds.end + dt.timedelta(days=2)), "total"]
    for col in ("forecast", "P50", "P90", "P99"):
        assert list(shown[col]) == pytest.approx(expected[col].to_list())
    # seasonal naive: the forecast of d+h is the sales of the last same weekday, read here from the raw table
    sales = ds.sales.filter((ds.sales["Store_ID"] == 44) & (ds.sales["Product_ID"] == 3))
    for h in (1, 2):
        last_same = ds.end + dt.timedelta(days=h - 7)
        qty = sales.filter(sales["Date"] == last_same)["Qty"].sum()
        assert shown["forecast"].iloc[h - 1] == pytest.approx(qty)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Model"] == "seasonal_naive" and metrics["P90 of the total"] == f"{q.total_quantile(0.9):,.0f}"
    explain = _table_with(at, "baseline")
    for row, e in zip(explain.to_dict("records"), q.explanation):
        assert row["forecast"] == pytest.approx(e["forecast"])
        parts = [v for k, v in row.items() if k not in ("day", "baseline", "forecast")]
        assert row["baseline"] + sum(parts) == pytest.approx(row["forecast"])


def test_page_trains_and_shows_the_engine_numbers(fresh_data):
    from engine.data.dataset import load_dataset
    from engine.forecasting import run_forecast
    from engine.forecasting.store import default_models_dir

    at = _page()
    assert not at.exception
    assert "press **Train**" in at.info[0].value
    at.multiselect(key="models").set_value(["seasonal_naive", "gboost"])
    at.date_input(key="window").set_value((dt.date(2017, 3, 1), dt.date(2017, 3, 31)))
    at.button(key="train").click().run()
    assert not at.exception and not at.error
    status = "\n".join(m.value for m in at.markdown)
    assert "**gboost**: 100%" in status and "**seasonal_naive**: 100%" in status  # per-model status lines
    ds = load_dataset(fresh_data)
    expected = run_forecast(ds, 44, [3], dt.date(2017, 3, 1), dt.date(2017, 3, 31), models="seasonal_naive,gboost",
                            models_dir=default_models_dir(ds))[0]
    assert all(expected.reused.values())  # the page saved its models where the engine looks for them
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Chosen model"] == expected.model
    assert metrics["Test WAPE"] == f"{expected.metrics['wape']:.1%}"
    assert metrics["Lead time"] == "2 days"
    table = _table_with(at, "validation_wape")
    assert sorted(table["model"]) == sorted(expected.models)
    row = table[table["model"] == "gboost"].iloc[0]
    assert row["wape"] == pytest.approx(expected.models["gboost"]["wape"])
    assert row["validation_wape"] == pytest.approx(expected.validation["gboost"]["wape"])
    # residual diagnostics of the chosen model are on the page, one sentence per test
    diag = expected.diagnostics()
    shown = [s.value for s in (*at.success, *at.warning)]
    assert sorted(shown) == sorted(t.sentence for t in diag.tests)
    assert at.subheader[-1].value == f"Residual diagnostics of {expected.model}"


def test_page_explains_a_window_without_history(fresh_data):
    at = _page()
    at.multiselect(key="models").set_value(["seasonal_naive"])
    at.date_input(key="window").set_value((dt.date(2014, 1, 10), dt.date(2014, 1, 20)))
    at.button(key="train").click().run()
    assert not at.exception
    assert "too little history" in at.error[0].value
