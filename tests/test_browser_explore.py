"""Browser: the Explore page served by `streamlit run`, seen in Chromium."""

import pytest

from engine.analysis.decomposition import decompose
from engine.analysis.diagnostics import series_diagnostics
from engine.data.dataset import load_dataset
from tests.browser_support import chromium_page, screenshot, streamlit_app, wait_until_idle

pytestmark = pytest.mark.browser


def test_explore_page_loads_with_charts_and_verdicts(fresh_data):
    ds = load_dataset(fresh_data)
    dec3, dec12 = decompose(ds, 44, 3), decompose(ds, 44, 12)
    diag = series_diagnostics(ds, 44, 3)
    with streamlit_app(fresh_data) as url, chromium_page() as page:
        page.goto(f"{url}/Explore")
        wait_until_idle(page, timeout=180_000)
        page.get_by_role("heading", name="Explore").first.wait_for()
        page.locator("p").filter(has_text=dec3.verdict).first.wait_for()
        page.locator("p").filter(has_text=diag.shapiro.sentence).first.wait_for()
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        assert charts.count() >= 8  # sales, decomposition, weekday, month, scatter, lag, rolling, ACF, PACF
        page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg').length >= 8")
        assert page.locator('[data-testid="stDownloadButton"]').count() >= 5
        path = screenshot(page, "explore")
        assert path.stat().st_size > 50_000
        # pick product 12 in the sidebar: the verdicts follow
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Product").click()
        page.get_by_role("option", name="12 ·").first.click()
        wait_until_idle(page, timeout=180_000)
        page.locator("p").filter(has_text=dec12.verdict).first.wait_for()
        assert page.locator("p").filter(has_text=dec3.verdict).count() == 0


def test_brushing_the_sales_chart_sets_the_analysis_window(fresh_data):
    import datetime as dt
    import re

    from engine.analysis.series import daily_series, describe_series

    ds = load_dataset(fresh_data)
    with streamlit_app(fresh_data) as url, chromium_page() as page:
        page.goto(f"{url}/Explore")
        wait_until_idle(page, timeout=180_000)
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Window").click()
        page.get_by_role("option", name="Brushed on the sales chart").click()
        wait_until_idle(page, timeout=180_000)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert f"Analysis window: {ds.start} to {ds.end}" in sidebar.inner_text()  # nothing brushed yet: whole period
        box = page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()
        y = box["y"] + box["height"] - 80  # inside the small overview chart
        page.mouse.move(box["x"] + box["width"] * 0.5, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
        page.mouse.up()
        page.wait_for_timeout(1000)
        wait_until_idle(page, timeout=180_000)
        start, end = (dt.date.fromisoformat(d) for d in re.search(r"Analysis window: (\S+) to (\S+)\.", sidebar.inner_text()).groups())
        assert ds.start < start < end < ds.end and 60 < (end - start).days < 200  # about a tenth of 3.25 years
        expected = describe_series(daily_series(ds, 44, 3), start, end, "store 44, product 3")
        page.locator("p").filter(has_text=expected).first.wait_for()
