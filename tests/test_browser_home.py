"""Browser: the Home page served by `streamlit run`, seen in Chromium."""

import pytest

from engine.data.dataset import load_dataset
from engine.analysis.overview import overview
from tests.browser_support import chromium_page, screenshot, streamlit_app, wait_until_idle

pytestmark = pytest.mark.browser


def test_home_shows_title_and_kpis(fresh_data):
    expected = overview(load_dataset(fresh_data))
    with streamlit_app(fresh_data) as url, chromium_page() as page:
        page.goto(url)
        wait_until_idle(page)
        page.get_by_role("heading", name="K-Mart demand & ordering").wait_for()
        units = page.locator('[data-testid="stMetric"]').filter(has_text="Units sold")
        value = units.locator('[data-testid="stMetricValue"]')
        assert value.inner_text() == f"{expected.units / 1e6:.1f} M"  # compact: the exact figure is in the tooltip
        # at 1,400 px every tile's number is drawn whole (the long "515,427,442" used to be cut with an ellipsis)
        tiles = page.locator('[data-testid="stMetricValue"] p')
        assert tiles.count() == 5
        fits = "e => e.getBoundingClientRect().width <= e.closest('[data-testid=stMetricValue]').getBoundingClientRect().width"
        for i in range(tiles.count()):  # the text (an inline <p>) is no wider than its tile
            assert tiles.nth(i).evaluate(fits), tiles.nth(i).inner_text()
        assert "54 · 24" in page.locator('[data-testid="stMetric"]').filter(has_text="Stores").inner_text()
        path = screenshot(page, "home")
        assert path.stat().st_size > 10_000
