"""The stock book: counts, receipts from confirmed orders, in transit, shrinkage, censored days, crashes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from engine.forecasting.lead_window import calibration_errors
from engine.ordering.ledger import OrderLedger
from engine.ordering.stockbook import StockBook, book_days, censored_days, count_stock, stock_position

ROOT = Path(__file__).resolve().parent.parent
STORE, PRODUCT = 44, 3  # LeadTime 2 in the demo chain


@pytest.fixture
def book(tmp_path) -> StockBook:
    return StockBook(tmp_path / "state" / "ledger.sqlite")


def _sales(ds, day) -> float:
    return float(ds.sales.filter((pl.col("Store_ID") == STORE) & (pl.col("Product_ID") == PRODUCT) & (pl.col("Date") == day))["Qty"].sum())


def _confirm(book, day, final, token):
    return book.ledger.confirm(STORE, day, [{"product": PRODUCT, "recommended": final, "final": final}], token, confirmed_by="ana")


def test_a_confirmed_order_is_in_transit_the_next_evening_and_received_on_its_arrival_day(demo, book):
    d = demo.end - dt.timedelta(days=10)
    assert demo.lead_time(PRODUCT) == 2
    count_stock(demo, book, STORE, PRODUCT, d, 5_000, by="ana", reason="evening count")
    _confirm(book, d, 7_000, "t1")
    # the evening of d + 1: the order of d is on its way, nothing from it is on the shelf yet
    pos = stock_position(demo, book, STORE, PRODUCT, d + dt.timedelta(days=1))
    assert pos.in_transit == 7_000 and pos.in_transit_source == "ledger"
    assert pos.closing_source == "book" and pos.closing == max(0.0, 5_000 - _sales(demo, d + dt.timedelta(days=1)))
    days = book_days(demo, book, STORE, PRODUCT, d + dt.timedelta(days=3))
    arrival = days.filter(pl.col("date") == d + dt.timedelta(days=2)).row(0, named=True)
    assert arrival["receipts"] == 7_000
    expected = 5_000.0
    for k in (1, 2):
        expected = max(0.0, expected + (7_000 if k == 2 else 0) - _sales(demo, d + dt.timedelta(days=k)))
    assert arrival["closing"] == pytest.approx(expected)
    # received: no longer in transit at the close of its arrival day
    assert stock_position(demo, book, STORE, PRODUCT, d + dt.timedelta(days=2)).in_transit == 0
    # a re-confirmation (version 2) replaces the quantity; a late, short delivery entered by staff moves it
    _confirm(book, d, 6_000, "t2")
    book.add_receipt(STORE, PRODUCT, d + dt.timedelta(days=3), 5_500, order_date=d, by="bo", reason="truck late, one pallet short")
    assert stock_position(demo, book, STORE, PRODUCT, d + dt.timedelta(days=2)).in_transit == 5_500  # still on its way
    days = book_days(demo, book, STORE, PRODUCT, d + dt.timedelta(days=3))
    assert days.filter(pl.col("date") == d + dt.timedelta(days=2))["receipts"].item() == 0
    assert days.filter(pl.col("date") == d + dt.timedelta(days=3))["receipts"].item() == 5_500
    receipt = book.receipts(STORE, PRODUCT).row(0, named=True)
    assert (receipt["entered_by"], receipt["reason"]) == ("bo", "truck late, one pallet short") and receipt["entered_at"]


def test_a_count_resets_the_book_and_the_shrinkage_is_kept(demo, book):
    d = demo.end - dt.timedelta(days=6)
    count_stock(demo, book, STORE, PRODUCT, d, 20_000, by="ana")
    later = d + dt.timedelta(days=2)
    book_figure = 20_000 - _sales(demo, d + dt.timedelta(days=1)) - _sales(demo, later)
    assert book_figure > 0
    entry = count_stock(demo, book, STORE, PRODUCT, later, 1_234, by="bo", reason="recount after delivery")
    assert entry["book_qty"] == pytest.approx(book_figure) and entry["shrinkage"] == pytest.approx(book_figure - 1_234)
    pos = stock_position(demo, book, STORE, PRODUCT, later)
    assert (pos.closing, pos.closing_source, pos.last_count) == (1_234, "counted", later)
    nxt = stock_position(demo, book, STORE, PRODUCT, later + dt.timedelta(days=1))
    assert nxt.closing == max(0.0, 1_234 - _sales(demo, later + dt.timedelta(days=1))) and nxt.closing_source == "book"
    counts = book.counts(STORE, PRODUCT)
    assert counts["counted_qty"].to_list() == [20_000, 1_234]  # both entries kept, oldest first
    assert counts["entered_by"].to_list() == ["ana", "bo"] and counts["shrinkage"][1] == pytest.approx(book_figure - 1_234)


def test_entries_cannot_be_changed_or_deleted(book):
    book.add_count(STORE, PRODUCT, "2017-03-01", 10, by="ana")
    book.add_receipt(STORE, PRODUCT, "2017-03-02", 5, by="ana")
    con = sqlite3.connect(book.path, isolation_level=None)
    try:
        for sql in ("UPDATE stock_counts SET counted_qty = 0", "DELETE FROM stock_counts", "UPDATE stock_receipts SET received_qty = 0",
                    "DELETE FROM stock_receipts"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
    assert book.counts()["counted_qty"].to_list() == [10] and book.receipts()["received_qty"].to_list() == [5]
    with pytest.raises(ValueError, match="count of product 3 is -1"):
        book.add_count(STORE, PRODUCT, "2017-03-01", -1)
    with pytest.raises(ValueError, match="arrives on a later day"):
        book.add_receipt(STORE, PRODUCT, "2017-03-01", 5, order_date="2017-03-01")


def test_an_empty_shelf_is_a_censored_day_left_out_of_the_error_statistics(demo, book):
    d = demo.end - dt.timedelta(days=5)
    count_stock(demo, book, STORE, PRODUCT, d, 10, by="ana")  # far less than a day's sales: the shelf runs empty
    nxt = d + dt.timedelta(days=1)
    days = book_days(demo, book, STORE, PRODUCT, nxt)
    assert days.filter(pl.col("date") == nxt).row(0, named=True)["closing"] == 0
    assert censored_days(demo, book, STORE, PRODUCT) >= {nxt}
    assert d not in censored_days(demo, book, STORE, PRODUCT)  # the count day itself closed with stock
    # validation predictions with a target on the censored day: that origin leaves the calibration errors
    origins = [nxt - dt.timedelta(days=k) for k in range(4, 0, -1)]
    preds = pl.DataFrame([(o, h, o + dt.timedelta(days=h), 100.0 + h, 90.0) for o in origins for h in (1, 2)],
                         schema={"origin": pl.Date, "horizon": pl.Int32, "target_date": pl.Date, "actual": pl.Float64,
                                 "forecast": pl.Float64}, orient="row")
    all_errors, _, _ = calibration_errors(preds, (1, 2))
    kept, weekdays, kept_origins = calibration_errors(preds, (1, 2), censored={nxt})
    assert all_errors.shape == (4, 2) and kept.shape == (2, 2)  # origins nxt-2 and nxt-1 forecast the censored day
    assert kept.tolist() == [[11.0, 12.0], [11.0, 12.0]] and list(weekdays) == [o.weekday() for o in origins[:2]]
    assert kept_origins == origins[:2]


_COUNT_FOREVER = textwrap.dedent("""
    import sys
    from engine.ordering.stockbook import StockBook
    book = StockBook(sys.argv[1])
    print(book.ledger.confirm(44, "2017-03-15", [{"product": 3, "recommended": 10, "final": 10}], "confirmed"), flush=True)
    k = 0
    while True:
        k += 1
        book.add_count(44, 3, "2017-03-15", k, by="loop")
        print(k, flush=True)
""")


def test_a_kill_while_saving_counts_loses_nothing_that_returned(tmp_path):
    path = tmp_path / "ledger.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _COUNT_FOREVER, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    first: list[str] = []
    t = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(120)
    assert first and first[0].strip() == "1", proc.stderr.read() if proc.poll() is not None else "no output"
    second = proc.stdout.readline()  # at least one count returned
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    seen = [first[0].strip(), second.strip(), *out.split()]
    returned = [int(v) for v in seen[1:]]
    book = StockBook(path)
    assert book.ledger.integrity() == "ok"
    assert book.ledger.history()["final_qty"].to_list() == [10.0]  # the confirmed order survived
    counts = [int(c) for c in book.counts()["counted_qty"].to_list()]
    assert counts[: len(returned)] == returned and len(counts) - len(returned) in (0, 1)  # every count that returned is there
    assert counts == list(range(1, len(counts) + 1))


def _cli(*args) -> dict:
    import json

    out = subprocess.run([sys.executable, "-m", "engine", "stock", *args, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_stock_cli_counts_receives_and_shows(demo, demo_dir, tmp_path):
    import shutil

    data = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, data)
    d = demo.end - dt.timedelta(days=3)
    first = _cli("count", "--data", str(data), "--store", "44", "--product", "3", "--date", str(d), "--units", "9000", "--by", "ana",
                 "--reason", "evening count")
    assert (first["counted_qty"], first["entered_by"], first["reason"], first["book_qty"]) == (9000, "ana", "evening count", None)
    OrderLedger(tmp_path / "data" / "state" / "ledger.sqlite").confirm(44, d, [{"product": 3, "recommended": 8000, "final": 8000}], "t")
    late = _cli("receive", "--data", str(data), "--store", "44", "--product", "3", "--order-date", str(d),
                "--date", str(d + dt.timedelta(days=3)), "--units", "7500")
    assert late["received_qty"] == 7500 and late["entered_by"]  # default: the OS user
    shown = _cli("show", "--data", str(data), "--store", "44", "--product", "3", "--date", str(d + dt.timedelta(days=2)))
    pos = shown["position"]
    expected = 9000.0
    for k in (1, 2):
        expected = max(0.0, expected - _sales(demo, d + dt.timedelta(days=k)))
    assert pos["closing"] == pytest.approx(expected) and pos["closing_source"] == "book"
    assert pos["in_transit"] == 7500 and pos["in_transit_source"] == "ledger"  # late: still on its way at d + 2
    bad = subprocess.run([sys.executable, "-m", "engine", "stock", "count", "--data", str(data), "--store", "44", "--product", "3",
                          "--units", "-2"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "enter a number of units (0 or more)" in bad.stderr


def test_censored_sales_are_imputed_for_training(demo):
    from engine.ordering.close_forecast import impute_censored

    day = demo.end - dt.timedelta(days=3)
    mine = (pl.col("Store_ID") == STORE) & (pl.col("Product_ID") == PRODUCT)
    low = demo.sales.with_columns(pl.when(mine & (pl.col("Date") == day)).then(0).otherwise(pl.col("Qty")).alias("Qty"))
    ds = __import__("dataclasses").replace(demo, sales=low)  # the shelf ran empty early: hardly anything sold
    weeks = [_sales(ds, day - dt.timedelta(days=7 * k)) for k in range(1, 5)]
    fixed = impute_censored(ds, STORE, PRODUCT, {day})
    assert _sales(fixed, day) == pytest.approx(max(0.0, sum(weeks) / 4)) and _sales(fixed, day) > 0
    others = fixed.sales.filter(~(mine & (pl.col("Date") == day)))
    keys = ["Date", "Store_ID", "Product_ID"]
    assert others.sort(keys).equals(ds.sales.filter(~(mine & (pl.col("Date") == day))).sort(keys))  # nothing else moves
    assert impute_censored(ds, STORE, PRODUCT, set()) is ds
