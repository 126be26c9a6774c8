"""Browser: confirm an order on the Orders page, restart the app on the same data, read the order back."""

from __future__ import annotations

import pytest

from engine.dataset import load_dataset
from engine.ledger import OrderLedger, default_ledger_path
from tests.browser_support import chromium_page, screenshot, streamlit_app, wait_until_idle

pytestmark = pytest.mark.browser


def _open_orders(page, url) -> None:
    page.goto(f"{url}/Orders?model=weekday_mean4")  # the quickest model: the flow is the same for "auto"
    wait_until_idle(page, timeout=300_000)
    page.get_by_role("heading", name="Orders").first.wait_for()


def test_confirm_then_restart_reads_the_order_back(fresh_data):
    ds = load_dataset(fresh_data)
    ledger = OrderLedger(default_ledger_path(fresh_data))
    message = f"Confirmed version 1 for store 44, date {ds.end}"
    with streamlit_app(fresh_data) as url, chromium_page(width=1500, height=2600) as page:
        _open_orders(page, url)
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        page.get_by_text("Nothing confirmed yet for store 44").wait_for()
        page.get_by_role("button", name="Confirm order").click()
        wait_until_idle(page)
        page.get_by_text(message).wait_for()
        screenshot(page, "orders_confirmed")
    # the app is stopped; what the page said is what the ledger file holds
    latest = ledger.latest(44, ds.end)
    assert latest is not None and latest["version"].unique().to_list() == [1]
    units = latest["final_qty"].sum()

    with streamlit_app(fresh_data) as url, chromium_page(width=1500, height=2600) as page:
        _open_orders(page, url)
        summary = page.get_by_text("Latest: version 1, confirmed")
        summary.wait_for()
        text = summary.inner_text()
        assert f"{latest.height} products, {units:,.0f} units, 0 changed from the recommendation" in text
        assert page.get_by_text(message).count() == 0  # a new session: the success note is gone, the ledger is not
        path = screenshot(page, "orders_after_restart")
        assert path.stat().st_size > 20_000
