"""AppTest: the Explore page shows the engine's verdicts and follows the pickers."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.analysis.decomposition import decompose
from engine.analysis.diagnostics import series_diagnostics
from engine.analysis.factors import factor_analysis
from engine.analysis.patterns import patterns

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "1_Explore.py")


def verdicts(at) -> list[str]:
    return [m.value.removeprefix("**Verdict:** ") for m in at.markdown if m.value.startswith("**Verdict:**")]


@pytest.fixture(scope="module")
def page(demo_dir):
    import os

    old = os.environ.get("KMART_DATA")
    os.environ["KMART_DATA"] = str(demo_dir)
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    yield at
    if old is None:
        os.environ.pop("KMART_DATA", None)
    else:
        os.environ["KMART_DATA"] = old


def test_first_load_shows_the_engine_verdicts(page, demo):
    at = page
    assert not at.exception and not at.warning
    v = verdicts(at)
    assert decompose(demo, 44, 3).verdict in v
    p = patterns(demo, 44, 3)
    assert p.weekday_verdict in v and p.monthly_verdict in v and p.holiday_verdict in v
    assert factor_analysis(demo, 44, 3).result("city_customers").verdict in v
    d = series_diagnostics(demo, 44, 3)
    assert d.shapiro.sentence in v and d.adf.sentence in v and d.ljung_box.sentence in v
    assert d.acf_sentence in v and d.pacf_sentence in v
    assert "Residuals are not normal (p < 0.001): a normal-based safety stock will be wrong; use empirical quantiles." in v
    assert any(m.value.startswith("- Paydays (15th and month end) sell") for m in at.markdown)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Seasonal strength"] == f"{decompose(demo, 44, 3).seasonal_strength:.2f}"
    tests = at.dataframe[-1].value
    assert list(tests["test"]) == ["Shapiro-Wilk", "ADF", "Ljung-Box"]
    assert tests["p_value"].iloc[0] == pytest.approx(d.shapiro.p_value)


def test_changing_the_product_changes_the_numbers(page, demo):
    at = page
    before = verdicts(at)
    seasonal = {m.label: m.value for m in at.metric}["Seasonal strength"]
    at.sidebar.selectbox(key="product").set_value(12).run()
    assert not at.exception
    after = verdicts(at)
    assert after != before
    assert after[0].startswith("Store 44, product 12 sells")
    assert decompose(demo, 44, 12).verdict in after
    assert {m.label: m.value for m in at.metric}["Seasonal strength"] == f"{decompose(demo, 44, 12).seasonal_strength:.2f}"
    assert patterns(demo, 44, 12).weekday_verdict in after
    assert seasonal != {m.label: m.value for m in at.metric}["Seasonal strength"]  # 0.50 vs 0.32 on the demo


def test_window_factor_and_diagnostic_choices(page, demo):
    import datetime as dt

    at = page
    at.sidebar.selectbox(key="product").set_value(3)
    at.sidebar.selectbox(key="window").set_value("Last quarter (91 days)").run()
    assert not at.exception
    start = demo.end - dt.timedelta(days=90)
    v = verdicts(at)
    assert patterns(demo, 44, 3, start, demo.end).weekday_verdict in v
    at.selectbox(key="factor").set_value("customers")
    at.radio(key="transform").set_value("change_7d").run()
    fa = factor_analysis(demo, 44, 3, start, demo.end, transform="change_7d")
    assert fa.result("customers").verdict in verdicts(at)
    at.radio(key="of").set_value("sales").run()
    d = series_diagnostics(demo, 44, 3, start, demo.end, of="sales")
    assert d.adf.sentence in verdicts(at)
    # yearly decomposition on a quarter is refused with one clear sentence, not a traceback
    at.radio(key="period").set_value("yearly").run()
    assert not at.exception
    assert any("needs two full years" in w.value for w in at.warning)


def test_store_total_and_missing_data_message(page, demo, tmp_path, monkeypatch):
    at = page
    at.sidebar.selectbox(key="window").set_value("Whole period")
    at.radio(key="period").set_value("weekly")
    at.sidebar.checkbox(key="total").check().run()
    assert not at.exception
    assert decompose(demo, 44, None).verdict in verdicts(at)
    monkeypatch.setenv("KMART_DATA", str(tmp_path / "nothing"))
    empty = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not empty.exception
    assert empty.error and "cannot be used yet" in empty.error[0].value
