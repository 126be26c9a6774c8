"""Browser: type a count and a changed order into the Orders sheet, confirm, restart the app, read the order back."""

from __future__ import annotations

import pytest

from engine.data.dataset import load_dataset
from engine.ordering.ledger import OrderLedger, default_ledger_path
from engine.ordering.confirmation import product_names
from tests.browser_support import chromium_page, screenshot, streamlit_app, wait_until_idle

pytestmark = pytest.mark.browser
MODEL = "weekday_mean4"  # the quickest model choice: the flow is the same for "auto"
# left edges and widths (px) of the sheet's columns, as pages/3_Orders.py sizes them; header and rows are 35 px high
COLUMNS = {"closing_stock": (150, 112), "final": (756, 92), "reason": (910, 125)}


def _open_orders(page, url) -> None:
    page.goto(f"{url}/Orders?model={MODEL}")
    wait_until_idle(page, timeout=300_000)
    page.get_by_role("heading", name="Orders").first.wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()


def _type_into(page, row: int, column: str, text: str, until) -> None:
    """Click a cell of the sheet, type, Enter — what a buyer does — until `until()` holds.

    A click that lands while the grid is still settling after a rerun can be lost; it is tried again
    (at most 3 times), and the test fails if the page never shows the edit's effect."""
    for _ in range(3):
        box = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
        left, width = COLUMNS[column]
        page.mouse.click(box["x"] + left + width / 2, box["y"] + 35 + 35 * row + 17)  # select the cell
        page.wait_for_timeout(400)
        page.keyboard.type(text)  # typing on a selected cell opens its editor with what is typed
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        page.wait_for_timeout(1500)  # the edit reaches the server and starts a rerun
        wait_until_idle(page)
        if until():
            return
    raise AssertionError(f"typing {text!r} into row {row}, column {column} of the sheet had no effect on the page")


def test_edit_confirm_then_restart_reads_the_order_back(fresh_data):
    from engine.ordering.sheet import order_sheet

    ds = load_dataset(fresh_data)
    names = product_names(ds)
    ledger = OrderLedger(default_ledger_path(fresh_data))
    message = f"Confirmed version 1 for store 44, date {ds.end}"
    with streamlit_app(fresh_data) as url, chromium_page(width=1500, height=2600) as page:
        _open_orders(page, url)
        page.get_by_text("Nothing confirmed yet for store 44").wait_for()
        products = [int(t.split(" · ")[0]) for t in page.get_by_text(" · ").all_inner_texts() if t.split(" · ")[0].isdigit()]
        sheet = order_sheet(ds, 44, ds.end, model=MODEL)  # meanwhile, what the page must show
        first, second = sheet.lines[0], sheet.lines[1]
        big = first.recommended * 2 + 10
        warning = page.get_by_text(f"The final order of product {first.product} ({names[first.product]}) is {big:,}")
        counted = page.get_by_text(f"Counted closing stock used for 1 product(s): {second.product} · {names[second.product]} = 1")
        _type_into(page, 0, "final", str(big), until=lambda: warning.count() == 1)  # > 20 % without a reason: refused
        _type_into(page, 1, "closing_stock", "1", until=lambda: counted.count() == 1)  # the real count: 1 on the shelf
        assert warning.count() == 1  # the first edit is still there
        _type_into(page, 0, "reason", "street festival", until=lambda: warning.count() == 0)
        assert counted.count() == 1
        page.get_by_role("button", name="Confirm order").click()
        wait_until_idle(page)
        page.get_by_text(message).wait_for()
        screenshot(page, "orders_confirmed")
    # the app is stopped; the ledger file holds what was typed, and the count's recomputed recommendation
    recount = order_sheet(ds, 44, ds.end, closing_stock={second.product: 1.0}, model=MODEL)
    latest = ledger.latest(44, ds.end)
    got = {r["product_id"]: r for r in latest.to_dicts()}
    assert latest["version"].unique().to_list() == [1] and sorted(got) == sorted(line.product for line in sheet.lines)
    assert (got[first.product]["final_qty"], got[first.product]["reason"]) == (big, "street festival")
    assert got[second.product]["recommended_qty"] == got[second.product]["final_qty"] == recount.lines[1].recommended
    assert recount.lines[1].closing_stock == 1.0 and recount.lines[1].closing_source == "counted"
    units = latest["final_qty"].sum()

    with streamlit_app(fresh_data) as url, chromium_page(width=1500, height=2600) as page:
        _open_orders(page, url)
        summary = page.get_by_text("Latest: version 1, confirmed")
        summary.wait_for()
        assert f"{latest.height} products, {units:,.0f} units, 1 changed from the recommendation" in summary.inner_text()
        assert page.get_by_text(message).count() == 0  # a new session: the success note is gone, the ledger is not
        path = screenshot(page, "orders_after_restart")
        assert path.stat().st_size > 20_000
    assert products[:2] == [first.product, second.product]


def test_a_count_and_an_order_tonight_are_in_the_book_and_in_transit_the_next_evening(fresh_data):
    import datetime as dt

    import polars as pl

    from engine.ordering.sheet import order_sheet
    from engine.ordering.stockbook import StockBook

    ds = load_dataset(fresh_data)
    names = product_names(ds)
    day = ds.end - dt.timedelta(days=1)
    with streamlit_app(fresh_data) as url, chromium_page(width=1500, height=2600) as page:
        page.goto(f"{url}/Orders?model={MODEL}&date={day}")
        wait_until_idle(page, timeout=300_000)
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        sheet = order_sheet(ds, 44, day, model=MODEL)
        second = sheet.lines[1]
        counted = page.get_by_text(f"Counted closing stock used for 1 product(s): {second.product} · {names[second.product]} = 99,999")
        _type_into(page, 1, "closing_stock", "99999", until=lambda: counted.count() == 1)
        page.get_by_role("button", name="Confirm order").click()
        wait_until_idle(page)
        page.get_by_text(f"Confirmed version 1 for store 44, date {day}").wait_for()
    counts = StockBook(default_ledger_path(fresh_data)).counts(44)
    assert counts.select("product_id", "count_date", "counted_qty").rows() == [(second.product, day, 99_999.0)]
    ordered = {r["product_id"]: r["final_qty"] for r in OrderLedger(default_ledger_path(fresh_data)).latest(44, day).to_dicts()}
    sold = ds.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == second.product) & (pl.col("Date") == ds.end))["Qty"].sum()
    on_its_way = next(x for x in sheet.lines if ds.lead_time(x.product) == 2 and ordered[x.product] > 0)

    # the next evening, a new session: the count is the book, tonight's order is on its way
    with streamlit_app(fresh_data) as url, chromium_page(width=1500, height=2600) as page:
        page.goto(f"{url}/Orders?model={MODEL}&date={ds.end}")
        wait_until_idle(page, timeout=300_000)
        book_line = page.get_by_text("Stock book: closing stock from the book for")
        book_line.wait_for()
        text = book_line.inner_text()
        assert f"{second.product} · {names[second.product]} {99_999 - sold:,.0f}" in text
        assert f"{on_its_way.product} · {names[on_its_way.product]} {ordered[on_its_way.product]:,.0f}" in text.split("in transit")[1]
        screenshot(page, "orders_next_evening")
