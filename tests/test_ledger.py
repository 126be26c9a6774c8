"""The order ledger: append-only, versions, idempotent tokens, concurrent writers, crashes."""

from __future__ import annotations

import ast
import datetime as dt
import os
import re
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

from engine.ordering.ledger import OrderLedger, default_ledger_path

ROOT = Path(__file__).resolve().parent.parent
D = dt.date(2017, 3, 15)


def _lines(*finals, start=3):
    return [{"product": start + i, "recommended": 100.0, "final": f, "reason": None if f == 100 else "promo"}
            for i, f in enumerate(finals)]


@pytest.fixture
def ledger(tmp_path) -> OrderLedger:
    return OrderLedger(tmp_path / "state" / "ledger.sqlite")


def _raw(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _versions(ledger, store=44, date=D) -> list[int]:
    return sorted(ledger.confirmations(store, date)["version"].to_list())


def test_default_path_is_in_the_state_folder_beside_the_data(fresh_data):
    assert default_ledger_path(fresh_data) == fresh_data.parent / "state" / "ledger.sqlite"
    assert default_ledger_path() == default_ledger_path(fresh_data)  # KMART_DATA is the fresh copy


def test_reconfirming_makes_new_versions_and_history_is_newest_first(ledger):
    assert ledger.history().is_empty() and ledger.latest(44, D) is None
    assert not ledger.path.exists()  # reading does not create the file
    assert ledger.confirm(44, D, _lines(100, 100), "t1") == 1
    assert ledger.confirm(44, D, _lines(150, 90), "t2", confirmed_by="kim") == 2
    assert ledger.confirm(44, "2017-03-16", _lines(100), "t3") == 1  # another date counts on its own
    assert ledger.confirm(7, D, _lines(100), "t4") == 1  # and another store
    hist = ledger.history(44, D)
    assert hist["version"].to_list() == [2, 2, 1, 1]
    assert hist["product_id"].to_list() == [3, 4, 3, 4]
    assert hist["final_qty"].to_list() == [150.0, 90.0, 100.0, 100.0]
    assert hist["reason"].to_list() == ["promo", "promo", None, None]
    assert hist["order_date"].to_list() == [D] * 4
    assert hist["confirmed_by"].to_list() == ["kim", "kim", None, None]
    everything = ledger.history()
    assert everything.height == 6
    assert everything["store_id"].to_list()[:1] == [7]  # newest confirmation first
    latest = ledger.latest(44, D)
    assert latest["version"].unique().to_list() == [2] and latest["final_qty"].to_list() == [150.0, 90.0]
    # version 1 is still there, unchanged: re-confirming never overwrites
    v1 = hist.filter(pl.col("version") == 1)
    assert v1["final_qty"].to_list() == [100.0, 100.0]
    summary = ledger.confirmations(44, D)
    assert summary["version"].to_list() == [2, 1]
    assert summary["final_total"].to_list() == [240.0, 200.0]
    assert summary["changed"].to_list() == [2, 0]
    csv = pl.read_csv(ledger.history_csv(44, D).encode())
    assert csv["final_qty"].to_list() == hist["final_qty"].to_list()


def test_the_file_is_wal_with_full_sync(ledger):
    ledger.confirm(44, D, _lines(100), "t1")
    with _raw(ledger.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con = ledger._connect()
    try:
        assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert con.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    finally:
        con.close()


def test_update_delete_and_replace_are_refused_by_the_file_itself(ledger):
    ledger.confirm(44, D, _lines(120), "t1")
    before = ledger.history()
    con = _raw(ledger.path)
    attempts = [
        "UPDATE order_lines SET final_qty = 1",
        "UPDATE confirmations SET version = 9",
        "DELETE FROM order_lines",
        "DELETE FROM confirmations",
        f"INSERT OR REPLACE INTO confirmations SELECT confirmation_id, 'x', store_id, order_date, version, confirmed_at, "
        f"confirmed_by FROM confirmations",
        "INSERT OR REPLACE INTO order_lines SELECT confirmation_id, store_id, order_date, version, product_id, 0, 0, "
        "'rewritten', confirmed_at FROM order_lines",
    ]
    for sql in attempts:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()
    assert ledger.history().equals(before)


def test_the_ledger_code_never_sends_update_delete_or_replace(tmp_path, monkeypatch):
    import engine.ordering.ledger as module

    sent, connect = [], sqlite3.connect

    def traced(*args, **kwargs):
        con = connect(*args, **kwargs)
        con.set_trace_callback(sent.append)
        return con

    monkeypatch.setattr(module.sqlite3, "connect", traced)
    ledger = OrderLedger(tmp_path / "ledger.sqlite")
    ledger.confirm(44, D, _lines(100, 130), "t1")
    ledger.confirm(44, D, _lines(100, 130), "t1")
    ledger.confirm(44, D, _lines(90), "t2")
    ledger.history(), ledger.latest(44, D), ledger.confirmations(), ledger.history_csv(44, D), ledger.integrity()
    assert any(s.startswith("INSERT INTO order_lines") for s in sent)
    writes = [s for s in sent if re.match(r"\s*(UPDATE|DELETE|REPLACE)\b", s, re.I) or re.search(r"\bOR\s+REPLACE\b", s, re.I)]
    assert writes == []
    # and no such statement is written anywhere in the module's code (only the guards' trigger texts name them)
    tree = ast.parse((ROOT / "engine" / "ordering" / "ledger.py").read_text())
    texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [t for t in texts if re.match(r"\s*(UPDATE|DELETE|REPLACE|INSERT\s+OR\s+REPLACE)\b", t, re.I)]


def test_same_client_token_twice_is_one_version(ledger):
    assert ledger.confirm(44, D, _lines(130), "click-1") == 1
    assert ledger.confirm(44, D, _lines(130), "click-1") == 1  # double submit
    assert ledger.confirm(44, D, _lines(130), "click-2") == 2
    assert ledger.confirm(44, D, _lines(130), "click-1") == 1
    assert _versions(ledger) == [1, 2]
    assert ledger.history().height == 2
    with pytest.raises(ValueError, match="token click-1 was already used for store 44, date 2017-03-15"):
        ledger.confirm(45, D, _lines(130), "click-1")


def test_bad_lines_are_one_sentence_and_write_nothing(ledger):
    with pytest.raises(ValueError, match="final quantity of product 3 is -5"):
        ledger.confirm(44, D, [{"product": 3, "recommended": 10, "final": -5}], "t")
    with pytest.raises(ValueError, match="Product 3 appears twice"):
        ledger.confirm(44, D, _lines(1) + _lines(2), "t")
    with pytest.raises(ValueError, match="no order lines"):
        ledger.confirm(44, D, [], "t")
    with pytest.raises(ValueError, match="client token"):
        ledger.confirm(44, D, _lines(1), "")
    with pytest.raises(ValueError, match="not a date"):
        ledger.confirm(44, "15/03/2017", _lines(1), "t")
    assert ledger.history().is_empty()


def test_concurrent_confirms_from_threads_are_all_kept(tmp_path):
    path = tmp_path / "ledger.sqlite"
    OrderLedger(path).confirm(44, D, _lines(100, 100), "first")  # the file exists; threads race on writes only
    n_threads, per_thread = 6, 8
    barrier = threading.Barrier(n_threads)
    returned, errors = [], []

    def worker(i):
        own = OrderLedger(path) if i % 2 else shared  # both: one object per thread and one shared object
        barrier.wait()
        for k in range(per_thread):
            try:
                returned.append(own.confirm(44, D, _lines(100 + i, 50 + k), f"tab{i}-{k}"))
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                errors.append(exc)

    shared = OrderLedger(path)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = 1 + n_threads * per_thread
    assert sorted(returned) == list(range(2, total + 1))  # each caller got its own version
    ledger = OrderLedger(path)
    assert _versions(ledger) == list(range(1, total + 1))
    hist = ledger.history(44, D)
    assert hist.height == 2 * total  # every line of every confirmation
    assert hist.group_by("version").len()["len"].to_list() == [2] * total


_WRITER = textwrap.dedent("""
    import sys, time, os
    from pathlib import Path
    from engine.ordering.ledger import OrderLedger
    path, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    ledger = OrderLedger(path)
    while not go.exists():
        time.sleep(0.005)
    for k in range(n):
        v = ledger.confirm(44, "2017-03-15", [{"product": 3, "recommended": 10, "final": k, "reason": name}], f"{name}-{k}")
        print(v, flush=True)
""")


def _python(*args, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_concurrent_confirms_from_two_processes_are_all_kept(tmp_path):
    path = tmp_path / "ledger.sqlite"
    go = tmp_path / "go"
    n = 25
    procs = [_python("-c", _WRITER, str(path), name, str(n), str(go)) for name in ("tabA", "tabB")]
    time.sleep(1.0)  # both imported and waiting (the file may not exist yet: both race to create it too)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    returned = sorted(int(v) for out, _ in outputs for v in out.split())
    assert returned == list(range(1, 2 * n + 1))
    hist = OrderLedger(path).history(44, D)
    assert sorted(hist["version"].to_list()) == list(range(1, 2 * n + 1))
    assert sorted(hist["reason"].to_list()) == ["tabA"] * n + ["tabB"] * n
    for name in ("tabA", "tabB"):  # each writer's confirmations in its own order
        mine = hist.filter(pl.col("reason") == name).sort("version")
        assert mine["final_qty"].to_list() == [float(k) for k in range(n)]


_KILLED_MID_WAY = textwrap.dedent("""
    import sqlite3, sys, time
    import engine.ordering.ledger as ledger_module
    from engine.ordering.ledger import OrderLedger

    class StopBeforeCommit(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.strip().upper() == "COMMIT" and getattr(self, "armed", False):
                print("INSIDE", flush=True)   # the rows are written inside the transaction, the commit is not
                time.sleep(600)
            if sql.startswith("INSERT INTO order_lines"):
                self.armed = True
            return super().execute(sql, *args)

        def executemany(self, sql, rows):
            self.armed = True
            return super().executemany(sql, rows)

    connect = sqlite3.connect
    path = sys.argv[1]
    ledger = OrderLedger(path)
    print(ledger.confirm(44, "2017-03-15", [{"product": 3, "recommended": 10, "final": 10}], "committed"), flush=True)
    ledger_module.sqlite3.connect = lambda *a, **k: connect(*a, factory=StopBeforeCommit, **k)
    lines = [{"product": p, "recommended": 10, "final": 99, "reason": "never committed"} for p in range(1, 400)]
    ledger.confirm(44, "2017-03-15", lines, "killed")
""")


def _read_line(proc, timeout=60) -> str:
    out = []

    def read():
        out.append(proc.stdout.readline())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    assert out and out[0], f"the child printed nothing: {proc.stderr.read() if proc.poll() is not None else 'still running'}"
    return out[0].strip()


def test_kill_inside_a_transaction_leaves_the_committed_versions_and_nothing_else(tmp_path):
    path = tmp_path / "ledger.sqlite"
    proc = _python("-c", _KILLED_MID_WAY, str(path))
    try:
        assert _read_line(proc) == "1"
        assert _read_line(proc) == "INSIDE"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ledger = OrderLedger(path)  # reopened by a new "app"
    assert ledger.integrity() == "ok"
    hist = ledger.history()
    assert hist["version"].to_list() == [1] and hist["reason"].to_list() == [None]
    assert ledger.confirm(44, D, _lines(100), "after") == 2  # the next version follows the committed ones
    with _raw(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT COUNT(*) FROM confirmations WHERE client_token = 'killed'").fetchone()[0] == 0


_CONFIRM_FOREVER = textwrap.dedent("""
    import sys
    from engine.ordering.ledger import OrderLedger
    ledger = OrderLedger(sys.argv[1])
    k = 0
    while True:
        k += 1
        lines = [{"product": p, "recommended": 10, "final": k, "reason": None} for p in range(1, 25)]
        print(ledger.confirm(44, "2017-03-15", lines, f"loop-{k}"), flush=True)
""")


@pytest.mark.parametrize("after_s", [0.4, 1.1])
def test_kill_at_any_moment_keeps_every_confirm_that_returned(tmp_path, after_s):
    path = tmp_path / "ledger.sqlite"
    proc = _python("-c", _CONFIRM_FOREVER, str(path))
    first = _read_line(proc)  # started and committed at least once
    time.sleep(after_s)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    reported = [int(first), *(int(v) for v in out.split())]  # every version whose confirm() returned
    ledger = OrderLedger(path)
    assert ledger.integrity() == "ok"
    versions = _versions(ledger)
    assert versions == list(range(1, len(versions) + 1))  # no gap, no duplicate
    assert versions[: len(reported)] == reported  # every returned confirm is there; at most one more committed unreported
    assert len(versions) - len(reported) in (0, 1)
    hist = ledger.history(44, D)
    assert hist.group_by("version").len()["len"].unique().to_list() == [24]  # no half-written confirmation
    assert hist.filter(pl.col("version") == versions[-1])["final_qty"].unique().to_list() == [float(versions[-1])]


def test_a_file_that_is_not_a_database_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_text("Store,Date\n44,2017-03-15\n" * 200)
    before = path.read_bytes()
    ledger = OrderLedger(path)
    for action in (lambda: ledger.history(), lambda: ledger.confirm(44, D, _lines(1), "t")):
        with pytest.raises(ValueError) as info:
            action()
        message = str(info.value)
        assert message.startswith(f"The order ledger {path} is not a SQLite database")
        assert "move it" in message and "\n" not in message
    assert path.read_bytes() == before


def test_a_database_of_something_else_is_refused_and_kept(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with _raw(path) as con:
        con.execute("CREATE TABLE recipes (name TEXT)")
        con.execute("INSERT INTO recipes VALUES ('soup')")
    con.close()
    with pytest.raises(ValueError, match=r"a SQLite database of something else \(tables: recipes\)"):
        OrderLedger(path).confirm(44, D, _lines(1), "t")
    with _raw(path) as con:
        assert con.execute("SELECT name FROM recipes").fetchall() == [("soup",)]
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {"recipes"}


def test_a_folder_where_the_file_should_be_is_one_sentence(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.mkdir()
    with pytest.raises(ValueError, match="is a folder, not a file"):
        OrderLedger(path).confirm(44, D, _lines(1), "t")
