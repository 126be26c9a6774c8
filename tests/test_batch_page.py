"""AppTest of the Nightly batch page and the Home tile: what is shown is the last batch's summary and outputs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "6_Nightly_batch.py")
HOME = str(ROOT / "Home.py")


@pytest.fixture
def batch(fresh_data):
    """A batch over stores 44, 45 x products 3, 12 in which store 45 never sold product 12 (all its rows are 0)."""
    from engine.batch.runner import run_batch

    sales = pl.read_csv(fresh_data / "sales.csv", try_parse_dates=True)
    zero = (pl.col("Store_ID") == 45) & (pl.col("Product_ID") == 12)
    sales.with_columns(pl.when(zero).then(0).otherwise(pl.col("Qty")).alias("Qty")).write_csv(fresh_data / "sales.csv", date_format="%Y-%m-%d")
    return run_batch(fresh_data, stores="44,45", products="3,12", models="weekday_mean4", workers=0)


def test_page_shows_the_last_batch(batch, fresh_data):
    from engine.batch.summary import last_batch

    assert (batch["series_total"], batch["series_ok"], batch["series_failed"]) == (4, 3, 1)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Series ok"] == f"{batch['series_ok']}/{batch['series_total']}" == "3/4"
    assert metrics["Failed"] == str(batch["series_failed"])
    assert metrics["Skipped (unchanged)"] == str(batch["series_skipped"])
    assert metrics["Stores · products"] == "2 · 2"
    assert metrics["Close date"] == batch["date"]
    assert str(batch["finished"]).replace("T", " ")[:19] in at.subheader[0].value
    assert [e.value for e in at.error] == batch["failures"]
    assert "store 45 product 12 failed: store 45 has no sales of product 12" in at.error[0].value
    shown = at.dataframe[0].value
    expected = last_batch(fresh_data).order_sheets
    assert len(shown) == expected.height == 3
    assert sorted(zip(shown["store"], shown["product"], shown["recommended"])) == sorted(
        zip(expected["store"], expected["product"], expected["recommended"]))
    # filter by store: only store 45's line
    at.selectbox(key="sheet_store").set_value(45).run()
    shown = at.dataframe[0].value
    line = expected.filter(pl.col("store") == 45)
    assert list(shown["product"]) == [3] and list(shown["recommended"]) == line["recommended"].to_list()
    assert list(shown["reason"]) == line["reason"].to_list()


def test_home_tile_and_run_now(batch, fresh_data):
    from engine.batch.summary import read_summary

    home = AppTest.from_file(HOME, default_timeout=120)
    home.run()
    assert not home.exception
    tile = [i.value for i in home.info if "Last nightly batch" in i.value]
    assert tile == [f"Last nightly batch: {batch['finished'].replace('T', ' ')[:16]} UTC, 3/4 series, 1 failed. Details on the Nightly batch page."]
    # run a small batch from the page (in the app's process): the page then shows the new summary
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    at.multiselect(key="run_stores").set_value([44])
    at.multiselect(key="run_products").set_value([3])
    at.multiselect(key="run_models").set_value(["weekday_mean4"])
    at.number_input(key="run_workers").set_value(0)
    at.button(key="run_batch").click().run()
    assert not at.exception and not at.error
    now = read_summary(data=fresh_data)
    assert (now["series_total"], now["series_ok"], now["series_skipped"], now["stores"]) == (1, 1, 1, [44])  # unchanged inputs: reused
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Series ok"] == "1/1" and metrics["Failed"] == "0"


def test_home_without_a_batch_shows_no_tile(fresh_data):
    home = AppTest.from_file(HOME, default_timeout=120)
    home.run()
    assert not home.exception
    assert not [i for i in home.info if "Last nightly batch" in i.value]
    page = AppTest.from_file(PAGE, default_timeout=120)
    page.run()
    assert "No batch has run yet" in page.info[0].value


def test_orders_page_shows_the_batch_sheet_for_the_same_close(batch, fresh_data):
    """The Orders page reads the nightly batch's order lines for its store and close; with the same model they are
    the numbers order_sheet gives now."""
    from engine.batch.summary import last_batch
    from engine.data.dataset import load_dataset
    from engine.ordering.sheet import order_sheet

    ds = load_dataset(fresh_data)
    at = AppTest.from_file(str(ROOT / "pages" / "3_Orders.py"), default_timeout=300)
    at.session_state["model"] = "weekday_mean4"
    at.run()
    assert not at.exception
    assert len(at.expander) == 1 and "The nightly batch computed 2 line(s) for this close" in at.expander[0].label
    assert "Last nightly batch:" in at.expander[0].label
    shown = at.expander[0].dataframe[0].value
    expected = last_batch(fresh_data).sheet(44)
    assert list(shown["product"]) == expected["product"].to_list() == [3, 12]
    assert list(shown["recommended"]) == expected["recommended"].to_list()
    now = {line.product: line.recommended for line in order_sheet(ds, 44, ds.end, products=[3, 12], model="weekday_mean4").lines}
    assert list(shown["recommended"]) == [now[3], now[12]]
    # another close has no batch lines: no expander
    at.date_input(key="date").set_value(ds.end - __import__("datetime").timedelta(days=1)).run()
    assert not at.exception and len(at.expander) == 0
