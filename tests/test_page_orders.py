"""AppTest of the Orders page: the sheet on screen is order_sheet's, counts recompute it, the 20 % rule, the ledger."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from engine.data.dataset import load_dataset
from engine.ordering.ledger import OrderLedger, default_ledger_path
from engine.ordering.confirmation import product_names
from engine.ordering.sheet import order_sheet

from tests.test_page_forecast import ROOT

PAGE = str(ROOT / "pages" / "3_Orders.py")
STORE = 44
MODEL = "weekday_mean4"  # the page's cheapest model choice keeps this file fast; "auto" is the same code path


@pytest.fixture(scope="module")
def orders_data(demo_dir, tmp_path_factory):
    """One private copy of the demo data for this module (its models are trained once, by the first test)."""
    folder = tmp_path_factory.mktemp("orders") / "data" / "current"
    shutil.copytree(demo_dir, folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KMART_DATA", str(folder))
        yield folder


@pytest.fixture(scope="module")
def ds(orders_data):
    return load_dataset(orders_data)


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["model"] = MODEL
    at.run()
    assert not at.exception
    return at


def _edit(at: AppTest, date, rows: dict[int, dict]) -> AppTest:
    """Type into the sheet as a user does (the edit state of the keyed editor), then rerun."""
    at.session_state[f"sheet-{STORE}-{date}"] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    return at


def _table(at: AppTest, has: str, lacks: str = "\0"):
    """The read-only table on the page with (and without) these columns."""
    found = [d.value for d in at.dataframe if d.editing_mode == "read_only" and has in d.value.columns and lacks not in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def _sheet(at: AppTest):
    return at.data_editor(key=f"sheet-{STORE}-{at.date_input(key='date').value}").value


def test_the_sheet_shows_order_sheet_numbers_for_the_last_day(orders_data, ds):
    at = _page()
    date = at.date_input(key="date").value
    assert date == ds.end  # default: the last day in the data
    expected = order_sheet(ds, STORE, date, model=MODEL)
    names = product_names(ds)
    table = _sheet(at)
    assert len(table) == len(expected.lines) == len(ds.product_ids)
    for (_, row), line in zip(table.iterrows(), expected.lines):
        assert row["label"] == f"{line.product} · {names[line.product]}"
        assert row["closing_stock"] == pytest.approx(line.closing_stock)
        assert row["in_transit"] == pytest.approx(line.in_transit)
        shown = [float(x.replace(",", "")) for x in row["forecast"]]  # one value per day of the lead window, rounded to units
        assert len(shown) == len(line.forecasts) == line.lead_time
        assert all(abs(s - f) <= 0.5 for s, f in zip(shown, line.forecasts))
        assert abs(row["lead_demand"] - sum(line.forecasts)) <= 0.5
        assert abs(row["safety_stock"] - line.safety_stock) <= 0.5  # shown in whole units
        assert row["recommended"] == line.recommended and row["final"] == line.recommended
        assert row["why"] == line.reason
    assert at.subheader[0].value.startswith(f"Order sheet · store {STORE}")
    assert "Nothing confirmed yet for store 44" in at.info[0].value


def test_a_counted_closing_stock_recomputes_the_recommendation_as_the_engine_does(orders_data, ds):
    at = _page()
    date = at.date_input(key="date").value
    base = order_sheet(ds, STORE, date, model=MODEL)
    i, line = next((i, x) for i, x in enumerate(base.lines) if x.recommended > 0)
    counted = line.closing_stock + 10 * max(line.recommended, 1)  # far more on the shelf than simulated: order less
    expected = order_sheet(ds, STORE, date, closing_stock={line.product: counted}, model=MODEL)
    new = expected.lines[i]
    assert new.product == line.product and new.recommended < line.recommended  # the edit matters
    _edit(at, date, {i: {"closing_stock": counted}})
    row = _sheet(at).iloc[i]  # the editor's source: the count is the user's edit laid over the simulated value
    assert row["closing_stock"] == pytest.approx(line.closing_stock)
    assert at.session_state[f"sheet-{STORE}-{date}"]["edited_rows"] == {i: {"closing_stock": counted}}
    assert row["recommended"] == new.recommended and row["final"] == new.recommended and row["why"] == new.reason
    others = _sheet(at).drop(index=i)
    assert list(others["recommended"]) == [x.recommended for j, x in enumerate(expected.lines) if j != i]
    assert f"{line.product} · {product_names(ds)[line.product]} = {counted:,.0f}" in " ".join(c.value for c in at.caption)


def test_a_big_change_needs_a_reason_then_confirms_and_shows_in_the_history(orders_data, ds):
    at = _page()
    date = at.date_input(key="date").value
    sheet = order_sheet(ds, STORE, date, model=MODEL)
    i, line = next((i, x) for i, x in enumerate(sheet.lines) if x.recommended > 0)
    big = line.recommended * 2
    names = product_names(ds)
    ledger = OrderLedger(default_ledger_path(orders_data))
    before = ledger.confirmations(STORE, date).height

    _edit(at, date, {i: {"final": big}})
    assert _sheet(at).iloc[i]["change"] == 100  # percent
    at.button(key="confirm").click().run()
    sentence = (f"The final order of product {line.product} ({names[line.product]}) is {big:,.0f}, "
                f"100% away from the recommended {line.recommended:,.0f}: write a short reason for a change of more than 20%.")
    assert [e.value for e in at.error] == [sentence]
    assert not at.success and ledger.confirmations(STORE, date).height == before  # refused: nothing written

    _edit(at, date, {i: {"final": big, "reason": "school fair"}})
    at.button(key="confirm").click().run()
    assert not at.error
    version = before + 1
    assert at.success[0].value == f"Confirmed version {version} for store {STORE}, date {date}"
    latest = ledger.latest(STORE, date)
    assert latest["version"].unique().to_list() == [version]
    got = {r["product_id"]: r for r in latest.to_dicts()}
    assert got[line.product]["final_qty"] == big and got[line.product]["reason"] == "school fair"
    assert all(got[x.product]["final_qty"] == x.recommended for x in sheet.lines if x.product != line.product)
    # the history on the page shows the version and its lines
    versions = _table(at, "final_total", lacks="store_id")
    assert versions["version"].iloc[0] == version and versions["final_total"].iloc[0] == pytest.approx(latest["final_qty"].sum())
    lines = _table(at, "final_qty", lacks="store_id")
    shown = lines[lines["product"] == f"{line.product} · {names[line.product]}"].iloc[0]
    assert shown["final_qty"] == big and shown["reason"] == "school fair"
    assert _table(at, "store_id")["version"].iloc[0] == version

    # a second click on the same sheet (a double submit) is the same version, not a new one
    at.button(key="confirm").click().run()
    assert at.success[0].value == f"Confirmed version {version} for store {STORE}, date {date}"
    assert ledger.confirmations(STORE, date).height == version
    # a change within 20 % needs no reason and makes the next version
    near = int(line.recommended * 1.2)
    _edit(at, date, {i: {"final": near}})
    at.button(key="confirm").click().run()
    assert at.success[0].value == f"Confirmed version {version + 1} for store {STORE}, date {date}"
    latest = ledger.latest(STORE, date)
    assert latest.filter(latest["product_id"] == line.product)["final_qty"].item() == near


def test_two_tabs_confirming_the_same_sheet_make_two_versions(orders_data, ds):
    tabs = [_page(), _page()]  # two browser sessions
    date = tabs[0].date_input(key="date").value
    ledger = OrderLedger(default_ledger_path(orders_data))
    before = ledger.confirmations(STORE, date).height
    for tab in tabs:
        tab.button(key="confirm").click().run()
    shown = sorted(tab.success[0].value for tab in tabs)
    assert shown == [f"Confirmed version {before + k} for store {STORE}, date {date}" for k in (1, 2)]
    assert ledger.confirmations(STORE, date)["version"].to_list()[:2] == [before + 2, before + 1]


def test_a_ledger_file_that_is_not_a_database_is_one_sentence_and_kept(orders_data, ds):
    path = default_ledger_path(orders_data)
    kept = path.with_name("ledger.kept")
    path.rename(kept)  # put this module's ledger aside, and a damaged file in its place
    for extra in ("-wal", "-shm"):
        if path.with_name(path.name + extra).exists():
            path.with_name(path.name + extra).rename(kept.with_name(kept.name + extra))
    path.write_bytes(b"this is not a database\n" * 50)
    try:
        at = _page()
        assert [e.value for e in at.error] == [
            f"The order ledger {path} is not a SQLite database; it was left untouched: move it to another name (or restore "
            f"the ledger from a backup) and a new ledger will be started on the next confirmation."]
        assert path.read_bytes() == b"this is not a database\n" * 50
    finally:
        path.unlink()
        for extra in ("", "-wal", "-shm"):
            if kept.with_name(kept.name + extra).exists():
                kept.with_name(kept.name + extra).rename(path.with_name(path.name + extra))
