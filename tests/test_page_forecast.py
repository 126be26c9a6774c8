"""AppTest of the Forecast page: the numbers on screen are run_forecast's numbers for the same choices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "2_Forecast.py")


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    return at


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
    table = at.dataframe[0].value
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
