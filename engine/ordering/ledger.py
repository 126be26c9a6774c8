"""The order ledger: every confirmed order, append-only, in a SQLite file beside the data.

One file, ``state_dir(data)/ledger.sqlite``, in WAL mode (the stock book's counts and receipts,
``engine.ordering.stockbook``, live in the same file under the same rules) with ``synchronous=FULL``: a
confirmation that returned is on disk and survives a crash of the app (or of the machine);
one that was interrupted before its commit leaves no trace.

History is never rewritten:
- the code has no UPDATE or DELETE statement, and triggers make SQLite itself refuse any
  UPDATE, DELETE or INSERT OR REPLACE on the two tables, so even a bug cannot change history;
- confirming a (store, date) again adds version max + 1, computed and written inside one
  ``BEGIN IMMEDIATE`` transaction (so two writers can never pick the same number);
- each confirmation carries a ``client_token`` (one per rendered sheet / confirm click) that
  is UNIQUE: sending the same confirmation twice returns the version already written.
Writers wait for each other (busy timeout) instead of failing. An existing ledger file is never
deleted or recreated: a file that cannot be used is reported in one sentence and left as it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sqlite3
import uuid
from pathlib import Path

import polars as pl
from engine.data.storage import state_dir

LEDGER_FILE = "ledger.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS confirmations (
  confirmation_id TEXT PRIMARY KEY,
  client_token TEXT UNIQUE NOT NULL,
  store_id INTEGER NOT NULL,
  order_date TEXT NOT NULL,
  version INTEGER NOT NULL,
  confirmed_at TEXT NOT NULL,
  confirmed_by TEXT,
  UNIQUE(store_id, order_date, version)
);
CREATE TABLE IF NOT EXISTS order_lines (
  confirmation_id TEXT NOT NULL REFERENCES confirmations,
  store_id INTEGER NOT NULL,
  order_date TEXT NOT NULL,
  version INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  recommended_qty REAL NOT NULL,
  final_qty REAL NOT NULL,
  reason TEXT,
  confirmed_at TEXT NOT NULL,
  PRIMARY KEY (confirmation_id, product_id)
);
CREATE INDEX IF NOT EXISTS order_lines_store_date ON order_lines(store_id, order_date, version);
CREATE TABLE IF NOT EXISTS stock_counts (
  entry_id TEXT PRIMARY KEY,
  store_id INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  count_date TEXT NOT NULL,
  counted_qty REAL NOT NULL,
  book_qty REAL,
  shrinkage REAL,
  entered_at TEXT NOT NULL,
  entered_by TEXT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS stock_counts_series ON stock_counts(store_id, product_id, count_date);
CREATE TABLE IF NOT EXISTS stock_receipts (
  entry_id TEXT PRIMARY KEY,
  store_id INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  order_date TEXT,
  received_date TEXT NOT NULL,
  received_qty REAL NOT NULL,
  entered_at TEXT NOT NULL,
  entered_by TEXT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS stock_receipts_series ON stock_receipts(store_id, product_id, order_date);
CREATE TABLE IF NOT EXISTS order_forecasts (
  confirmation_id TEXT NOT NULL REFERENCES confirmations,
  product_id INTEGER NOT NULL,
  lead_time INTEGER NOT NULL,
  model TEXT,
  forecast_total REAL NOT NULL,
  baseline_total REAL,
  PRIMARY KEY (confirmation_id, product_id)
);
"""


def _guards(table: str, key_clause: str) -> str:
    """Triggers that make the table append-only (UPDATE, DELETE and a REPLACE of a row all abort)."""
    return f"""
CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'the order ledger is append-only: {table} rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'the order ledger is append-only: {table} rows cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {key_clause})
BEGIN SELECT RAISE(ABORT, 'the order ledger is append-only: {table} rows cannot be replaced'); END;
"""


_TRIGGERS = _guards(
    "confirmations",
    "confirmation_id = NEW.confirmation_id OR client_token = NEW.client_token "
    "OR (store_id = NEW.store_id AND order_date = NEW.order_date AND version = NEW.version)",
) + _guards("order_lines", "confirmation_id = NEW.confirmation_id AND product_id = NEW.product_id") \
  + _guards("stock_counts", "entry_id = NEW.entry_id") + _guards("stock_receipts", "entry_id = NEW.entry_id") \
  + _guards("order_forecasts", "confirmation_id = NEW.confirmation_id AND product_id = NEW.product_id")

HISTORY_COLUMNS = ["store_id", "order_date", "version", "product_id", "recommended_qty", "final_qty", "reason",
                   "confirmed_at", "confirmed_by", "confirmation_id"]
_HISTORY_SCHEMA = {"store_id": pl.Int64, "order_date": pl.Date, "version": pl.Int64, "product_id": pl.Int64,
                   "recommended_qty": pl.Float64, "final_qty": pl.Float64, "reason": pl.String,
                   "confirmed_at": pl.String, "confirmed_by": pl.String, "confirmation_id": pl.String}
_CONFIRMATION_SCHEMA = {"store_id": pl.Int64, "order_date": pl.Date, "version": pl.Int64, "confirmed_at": pl.String,
                        "confirmed_by": pl.String, "products": pl.Int64, "recommended_total": pl.Float64,
                        "final_total": pl.Float64, "changed": pl.Int64, "confirmation_id": pl.String}


def default_ledger_path(data: Path | str | None = None) -> Path:
    """``<state>/ledger.sqlite`` for the data folder (default: the current data set)."""
    return state_dir(Path(data) if data else None) / LEDGER_FILE


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"The order date {value!r} is not a date; write it as YYYY-MM-DD (e.g. 2017-03-15).") from None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _quantity(value, product, what: str) -> float:
    try:
        q = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"The {what} quantity of product {product} is {value!r}, not a number; enter a number of units (0 or more).") from None
    if not math.isfinite(q) or q < 0:
        raise ValueError(f"The {what} quantity of product {product} is {value!r}; enter a number of units (0 or more).")
    return q


def _clean_lines(lines) -> list[tuple[int, float, float, str | None]]:
    out, seen = [], set()
    for line in lines:
        try:
            product = int(line["product"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"An order line has no valid product id ({line!r}); every line needs product, recommended and final.") from None
        if product in seen:
            raise ValueError(f"Product {product} appears twice in the confirmation; send one line per product.")
        seen.add(product)
        recommended = _quantity(line.get("recommended"), product, "recommended")
        final = _quantity(line.get("final"), product, "final")
        reason = line.get("reason")
        reason = str(reason).strip() if reason is not None and str(reason).strip() else None
        out.append((product, recommended, final, reason))
    if not out:
        raise ValueError("The confirmation has no order lines; there is nothing to confirm.")
    return out


def _forecast_rows(lines) -> list[tuple]:
    """(product, lead time, model, forecast total, baseline total) of the lines that carry a forecast."""
    out = []
    for line in lines:
        f = line.get("forecast") if isinstance(line, dict) else None
        if f is None or not math.isfinite(float(f)) or not line.get("lead_time"):
            continue
        b = line.get("baseline")
        out.append((int(line["product"]), int(line["lead_time"]), line.get("model"), float(f),
                    float(b) if b is not None and math.isfinite(float(b)) else None))
    return out


class OrderLedger:
    """Append-only ledger of confirmed orders in one SQLite file (created on first use)."""

    def __init__(self, path: Path | str | None = None, read_only: bool = False):
        """``read_only=True`` opens the file in SQLite's read-only mode (Ask, reports): it never creates,
        migrates or writes anything, and ``confirm`` refuses."""
        self.path = Path(path) if path else default_ledger_path()
        self.read_only = read_only
        self._ready = False

    def __repr__(self) -> str:
        return f"OrderLedger({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------------
    def _explain(self, exc: sqlite3.Error) -> ValueError:
        text = str(exc).lower()
        where = f"The order ledger {self.path}"
        if "not a database" in text or "file is encrypted" in text:
            msg = (f"{where} is not a SQLite database; it was left untouched: move it to another name (or restore "
                   f"the ledger from a backup) and a new ledger will be started on the next confirmation.")
        elif "malformed" in text or "corrupt" in text:
            msg = (f"{where} is damaged ({exc}); it was left untouched: copy it somewhere safe and restore the ledger "
                   f"from a backup, or move it away to start a new one.")
        elif "locked" in text or "busy" in text:
            msg = f"{where} stayed busy for more than {BUSY_TIMEOUT_S:.0f} s (another confirmation is being written); try again."
        elif "readonly" in text or "read-only" in text or "unable to open" in text or "disk i/o" in text:
            msg = (f"{where} cannot be written ({exc}); check that its folder {self.path.parent} exists and is writable "
                   f"and that the disk is not full.")
        elif "append-only" in text:
            msg = f"{where} is append-only: {exc}."
        else:
            msg = f"{where} could not be used ({exc}); it was left untouched."
        return ValueError(msg)

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        if self.path.is_dir():
            raise ValueError(f"The order ledger {self.path} is a folder, not a file; move that folder away so the ledger file can be created.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA recursive_triggers = ON")  # so INSERT OR REPLACE fires the delete guard too
            if not self._ready:
                self._prepare(con)
            con.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            con.close()
            raise self._explain(exc) from None
        except ValueError:
            con.close()
            raise
        return con

    def _connect_read_only(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                  isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        return con

    def _prepare(self, con: sqlite3.Connection) -> None:
        """Check the file is ours (or empty), switch it to WAL and create the tables and guards once."""
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"confirmations", "order_lines"} <= tables:
            raise ValueError(f"The order ledger {self.path} is a SQLite database of something else (tables: "
                             f"{', '.join(sorted(tables))}); it was left untouched: move it away or point the app at another data folder.")
        for table, needed in (("confirmations", {"confirmation_id", "client_token", "store_id", "order_date", "version", "confirmed_at"}),
                              ("order_lines", {"confirmation_id", "product_id", "recommended_qty", "final_qty", "version"})):
            if table in tables:
                have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                if not needed <= have:
                    raise ValueError(f"The order ledger {self.path} has a table {table} without the columns "
                                     f"{', '.join(sorted(needed - have))}; it was left untouched: move it away to start a new ledger.")
        if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise ValueError(f"The order ledger {self.path} cannot use write-ahead logging (journal mode {mode}); "
                                 f"put the data folder on a local disk.")
        con.execute("BEGIN IMMEDIATE")
        try:
            # (executescript would COMMIT first: the statements run one by one inside this transaction)
            for statement in _split(_SCHEMA + _TRIGGERS):
                con.execute(statement)
            if con.execute("PRAGMA user_version").fetchone()[0] == 0:
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._ready = True

    @contextlib.contextmanager
    def _connection(self):
        con = self._connect()
        try:
            yield con
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        finally:
            con.close()

    # -- writing -----------------------------------------------------------------------------
    def confirm(self, store: int, date, lines, client_token: str, confirmed_by: str | None = None) -> int:
        """Append a confirmation of ``lines`` for (store, date) and return its version.

        ``lines``: dicts with ``product``, ``recommended``, ``final`` and optional ``reason``.
        The same ``client_token`` sent again returns the version written the first time.
        A ledger opened with ``read_only=True`` refuses.
        """
        if self.read_only:
            raise ValueError(f"The order ledger {self.path} was opened read-only; confirm orders from the Orders page or `python -m engine confirm`.")
        store = int(store)
        date = _as_date(date)
        token = str(client_token or "").strip()
        if not token:
            raise ValueError("A confirmation needs a client token (one per confirm click) so a double submit is not written twice.")
        rows = _clean_lines(lines)
        with self._connection() as con:
            con.execute("BEGIN IMMEDIATE")  # takes the write lock now: the version below cannot be taken by another writer
            try:
                found = con.execute("SELECT store_id, order_date, version FROM confirmations WHERE client_token = ?", (token,)).fetchone()
                if found is not None:
                    con.execute("ROLLBACK")
                    if (found[0], found[1]) != (store, date.isoformat()):
                        raise ValueError(f"The confirmation token {token} was already used for store {found[0]}, date {found[1]}; "
                                         f"reload the order sheet and confirm again.")
                    return int(found[2])
                version = con.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM confirmations WHERE store_id = ? AND order_date = ?",
                                      (store, date.isoformat())).fetchone()[0]
                confirmation_id = uuid.uuid4().hex
                now = _now()
                con.execute("INSERT INTO confirmations (confirmation_id, client_token, store_id, order_date, version, confirmed_at, confirmed_by) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)", (confirmation_id, token, store, date.isoformat(), version, now, confirmed_by))
                con.executemany("INSERT INTO order_lines (confirmation_id, store_id, order_date, version, product_id, recommended_qty, "
                                "final_qty, reason, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [(confirmation_id, store, date.isoformat(), version, p, rec, fin, why, now) for p, rec, fin, why in rows])
                forecasts = _forecast_rows(lines)
                if forecasts:  # what the sheet forecast for the lead window, kept for the after-the-fact report
                    con.executemany("INSERT INTO order_forecasts (confirmation_id, product_id, lead_time, model, forecast_total, "
                                    "baseline_total) VALUES (?, ?, ?, ?, ?, ?)", [(confirmation_id, *f) for f in forecasts])
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        return int(version)

    def append(self, sql: str, row: tuple) -> None:
        """One INSERT into an append-only table of this file (the stock book's counts and receipts), in its own
        write transaction: committed whole or not at all."""
        with self._connection() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute(sql, row)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    # -- reading -----------------------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a SELECT on this file ([] while the file does not exist: reading never creates it)."""
        if not self.path.exists():
            return []
        with self._connection() as con:
            return con.execute(sql, params).fetchall()

    @staticmethod
    def _where(store, date) -> tuple[str, tuple]:
        clauses, params = [], []
        if store is not None:
            clauses.append("c.store_id = ?")
            params.append(int(store))
        if date is not None:
            clauses.append("c.order_date = ?")
            params.append(_as_date(date).isoformat())
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def history(self, store: int | None = None, date=None) -> pl.DataFrame:
        """Every confirmed order line (of one store and/or date), newest confirmation first."""
        where, params = self._where(store, date)
        rows = self.query(
            "SELECT l.store_id, l.order_date, l.version, l.product_id, l.recommended_qty, l.final_qty, l.reason, "
            "l.confirmed_at, c.confirmed_by, l.confirmation_id FROM order_lines l JOIN confirmations c USING (confirmation_id)"
            f"{where} ORDER BY c.rowid DESC, l.product_id", params)
        return _frame(rows, HISTORY_COLUMNS, _HISTORY_SCHEMA)

    def latest(self, store: int, date) -> pl.DataFrame | None:
        """The lines of the newest version confirmed for (store, date), or None if there is none."""
        hist = self.history(store, date)
        if hist.is_empty():
            return None
        return hist.filter(pl.col("version") == hist["version"].max())

    def confirmations(self, store: int | None = None, date=None, limit: int | None = None) -> pl.DataFrame:
        """One row per confirmation (newest first) with its line count, totals and lines changed from the recommendation."""
        where, params = self._where(store, date)
        sql = ("SELECT c.store_id, c.order_date, c.version, c.confirmed_at, c.confirmed_by, COUNT(l.product_id), "
               "SUM(l.recommended_qty), SUM(l.final_qty), SUM(l.final_qty != l.recommended_qty), c.confirmation_id "
               f"FROM confirmations c JOIN order_lines l USING (confirmation_id){where} GROUP BY c.confirmation_id "
               "ORDER BY c.rowid DESC")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return _frame(self.query(sql, params), list(_CONFIRMATION_SCHEMA), _CONFIRMATION_SCHEMA)

    def history_csv(self, store: int | None = None, date=None) -> str:
        """The history as CSV text (the page's download, ``ledger --csv``)."""
        return self.history(store, date).write_csv()

    def forecasts(self, store: int | None = None) -> pl.DataFrame:
        """The forecasts kept with confirmed lines: store_id, order_date, version, product_id, lead_time, model,
        forecast_total, baseline_total (empty for a ledger written before they were kept)."""
        where, params = self._where(store, None)
        schema = {"store_id": pl.Int64, "order_date": pl.Date, "version": pl.Int64, "product_id": pl.Int64, "lead_time": pl.Int64,
                  "model": pl.String, "forecast_total": pl.Float64, "baseline_total": pl.Float64}
        try:
            rows = self.query("SELECT c.store_id, c.order_date, c.version, f.product_id, f.lead_time, f.model, f.forecast_total, "
                               f"f.baseline_total FROM order_forecasts f JOIN confirmations c USING (confirmation_id){where}", params)
        except ValueError as exc:
            if "no such table" in str(exc):
                rows = []
            else:
                raise
        return _frame(rows, list(schema), schema)

    def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` ('ok' when the file is sound)."""
        rows = self.query("PRAGMA integrity_check", ())
        return "ok" if not rows else "; ".join(r[0] for r in rows)


def _split(script: str) -> list[str]:
    """Statements of a script (triggers keep their inner ';' inside BEGIN ... END)."""
    out, buf = [], []
    for part in script.split(";"):
        buf.append(part)
        text = ";".join(buf).strip()
        if not text:
            buf = []
            continue
        if sqlite3.complete_statement(text + ";"):
            out.append(text)
            buf = []
    return out


def _frame(rows: list[tuple], columns: list[str], schema: dict) -> pl.DataFrame:
    raw = {c: pl.Date if t == pl.Date else t for c, t in schema.items()}
    if not rows:
        return pl.DataFrame(schema=raw)
    frame = pl.DataFrame(rows, schema={c: (pl.String if t == pl.Date else t) for c, t in schema.items()}, orient="row")
    return frame.with_columns(pl.col(c).str.to_date() for c, t in schema.items() if t == pl.Date).select(columns)
