"""SqlEngine: the allow-listed tables, results equal to polars, row and time limits, ledger and forecasts."""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import pytest

from engine.ask.sql_engine import SqlEngine, SqlError
from engine.ask.sql_guard import UnsafeSQL


@pytest.fixture(scope="module")
def engine(demo_dir, demo):
    return SqlEngine(demo_dir, ds=demo)


def test_only_the_five_tables_without_ledger_or_batch(engine, demo):
    assert set(engine.tables) == {"sales", "products", "stores", "visits", "oil_price"}
    assert list(engine.tables["sales"]) == demo.sales.columns
    assert list(engine.tables["oil_price"]) == ["Date", "WTI_Price"]  # the quoted days only
    assert engine.tables["sales"]["Date"] == "DATE" and engine.tables["oil_price"]["WTI_Price"] == "DOUBLE"


def test_sum_of_a_product_at_a_store_equals_polars(engine, demo):
    got = engine.run(
        "SELECT sum(Qty) AS q FROM sales WHERE Store_ID = 44 AND Product_ID = 3 AND Date BETWEEN DATE '2017-03-20' AND DATE '2017-03-26'"
    )
    want = demo.sales.filter(
        (pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3) & pl.col("Date").is_between(dt.date(2017, 3, 20), dt.date(2017, 3, 26))
    )["Qty"].sum()
    assert got.rows == [{"q": pytest.approx(want)}]
    assert got.columns == ["q"] and not got.truncated


def test_top_stores_and_monthly_totals_equal_polars(engine, demo):
    got = engine.run(
        "SELECT Store_ID, sum(Qty) AS q FROM sales WHERE Date >= '2017-03-01' GROUP BY Store_ID ORDER BY q DESC, Store_ID LIMIT 5"
    )
    want = (
        demo.sales.filter(pl.col("Date") >= dt.date(2017, 3, 1)).group_by("Store_ID").agg(pl.col("Qty").sum().alias("q"))
        .sort(["q", "Store_ID"], descending=[True, False]).head(5)
    )
    assert [r["Store_ID"] for r in got.rows] == want["Store_ID"].to_list()
    assert [r["q"] for r in got.rows] == pytest.approx(want["q"].to_list())
    assert got.rows[0]["Store_ID"] == 44  # the demo's top store

    got = engine.run(
        "SELECT date_trunc('month', Date) AS month, avg(CustomerCount) AS c FROM visits WHERE Store_ID = 7 AND year(Date) = 2016 GROUP BY 1 ORDER BY 1"
    )
    want = (
        demo.visits.filter((pl.col("Store_ID") == 7) & (pl.col("Date").dt.year() == 2016))
        .group_by(pl.col("Date").dt.month_start().alias("month")).agg(pl.col("CustomerCount").mean().alias("c")).sort("month")
    )
    assert [r["month"] for r in got.rows] == [d.isoformat() for d in want["month"]]
    assert [r["c"] for r in got.rows] == pytest.approx(want["c"].to_list())


def test_row_limit_truncates(demo_dir, demo):
    small = SqlEngine(demo_dir, ds=demo, row_limit=7)
    res = small.run("SELECT * FROM sales ORDER BY Date, Store_ID, Product_ID")
    assert len(res.rows) == 7 and res.truncated
    first = demo.sales.sort("Date", "Store_ID", "Product_ID").head(7)
    assert [r["Qty"] for r in res.rows] == first["Qty"].to_list()
    res = small.run("SELECT * FROM stores ORDER BY Store_ID LIMIT 3")
    assert len(res.rows) == 3 and not res.truncated


@pytest.mark.parametrize("tail", ["", " LIMIT 1000000", " LIMIT 50 PERCENT", " LIMIT (SELECT 1000000) -- all of them"])
def test_a_million_rows_come_back_as_row_limit_rows(demo_dir, demo, tail):
    """The cap is in the plan (streamed), whatever LIMIT the query asks for; the SQL is kept as written."""
    small = SqlEngine(demo_dir, ds=demo, row_limit=7)
    assert demo.sales.height > 1_000_000
    sql = f"SELECT Date, Store_ID, Qty FROM sales{tail}"
    res = small.run(sql)
    assert len(res.rows) == 7 and res.truncated and res.sql == sql
    assert {r["Qty"] for r in res.rows} <= set(demo.sales["Qty"].to_list())


def test_time_limit_interrupts_a_slow_query_with_a_sentence(demo_dir, demo):
    slow = SqlEngine(demo_dir, ds=demo, timeout_s=0.5)
    with pytest.raises(SqlError) as info:
        slow.run("SELECT sum(a.Qty * b.Qty) FROM sales a CROSS JOIN sales b")
    message = str(info.value)
    assert "0.5 s" in message and message.endswith(".") and "\n" not in message
    assert slow.run("SELECT 41 + 1 AS x").rows == [{"x": 42}]  # the connection still works


def test_memory_limit_stops_a_query_that_must_hold_its_rows_with_a_sentence(engine):
    """LIMIT ... PERCENT cannot stream: DuckDB holds the rows, up to the 1 GB cap (no spilling to disk)."""
    with pytest.raises(SqlError) as info:
        engine.run("SELECT a.Qty, b.Date FROM sales a CROSS JOIN sales b LIMIT 50 PERCENT")
    message = str(info.value)
    assert "1 GB memory" in message and message.endswith(".") and "\n" not in message
    assert engine.run("SELECT 41 + 1 AS x").rows == [{"x": 42}]  # the connection still works


def test_runtime_errors_and_refusals_are_sentences(engine):
    with pytest.raises(SqlError) as info:
        engine.run("SELECT no_such_column FROM sales")
    assert "no_such_column" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UnsafeSQL):
        engine.run("SELECT * FROM order_lines")  # no ledger in the shared demo folder


def test_ledger_and_batch_forecasts_become_tables(demo_dir, demo, tmp_path):
    from tests.test_ask_guard import _make_ledger

    folder = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, folder)
    ledger = folder.parent / "state" / "ledger.sqlite"
    _make_ledger(ledger)
    ledger_bytes = ledger.read_bytes()
    batch = folder.parent / "state" / "batch"
    batch.mkdir(parents=True)
    pl.DataFrame(
        {"store": [44, 44], "product": [3, 3], "date": [dt.date(2017, 4, 1), dt.date(2017, 4, 2)], "forecast": [812.5, 790.0]}
    ).write_parquet(batch / "forecasts.parquet")
    (batch / "series" / "s1_p3_x").mkdir(parents=True)  # a per-series partial result, newer: not the batch output
    pl.DataFrame({"store": [1], "product": [3], "forecast": [5.0]}).write_parquet(batch / "series" / "s1_p3_x" / "forecasts.parquet")
    eng = SqlEngine(folder, ds=demo)
    assert {"order_lines", "forecasts"} <= set(eng.tables)
    assert list(eng.tables["order_lines"])[:3] == ["confirmation_id", "store_id", "order_date"]
    res = eng.run("SELECT order_date, final_qty FROM order_lines WHERE store_id = 44 AND product_id = 3")
    assert res.rows == [{"order_date": "2017-03-30", "final_qty": 3000.0}]
    assert eng.run("SELECT sum(forecast) AS f FROM forecasts").rows == [{"f": pytest.approx(1602.5)}]
    assert ledger.read_bytes() == ledger_bytes


def test_open_is_cached_until_the_ledger_changes(demo_dir, demo, tmp_path):
    from tests.test_ask_guard import _make_ledger

    folder = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, folder)
    first = SqlEngine.open(folder, ds=demo)
    assert SqlEngine.open(folder, ds=demo) is first
    assert "order_lines" not in first.tables
    _make_ledger(folder.parent / "state" / "ledger.sqlite")
    second = SqlEngine.open(folder, ds=demo)
    assert second is not first and "order_lines" in second.tables
    assert second.run("SELECT count(*) AS n FROM order_lines").rows == [{"n": 1}]


def test_order_lines_hold_the_latest_confirmation_of_each_store_and_day(demo_dir, demo, tmp_path):
    """A re-confirmation replaces the earlier one: a sum over order_lines is never double-counted."""
    from tests.ask_support import write_ledger

    folder = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, folder)
    write_ledger(folder.parent / "state" / "ledger.sqlite", [
        (44, "2017-03-30", [(3, 3200, 3000, "r"), (5, 100, 100, "")], "kim"),
        (44, "2017-03-30", [(3, 3200, 3300, "more")], "kim"),  # version 2 of the same order
        (44, "2017-03-31", [(3, 3100, 3100, "")], "kim"),
    ])
    eng = SqlEngine(folder, ds=demo)
    rows = eng.run("SELECT order_date, version, product_id, final_qty FROM order_lines ORDER BY order_date, product_id").rows
    assert rows == [{"order_date": "2017-03-30", "version": 2, "product_id": 3, "final_qty": 3300.0},
                    {"order_date": "2017-03-31", "version": 1, "product_id": 3, "final_qty": 3100.0}]
