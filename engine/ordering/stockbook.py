"""The stock book of each (store, product): counts, receipts and sales, in the ledger's SQLite file.

Entries (append-only, like the ledger: the same file, WAL, ``synchronous=FULL``, triggers that
refuse UPDATE / DELETE / REPLACE; every entry keeps who entered it, when and why):

- a **count** is the closing stock staff counted at the end of a day. It resets the book; the
  book's figure just before it is kept beside it, and their difference is the shrinkage
  (book − counted: positive = units missing).
- a **receipt** is what arrived for a confirmed order. A confirmed order (newest ledger version of
  its close) is received on its arrival day (close + LeadTime) by default; staff record a receipt
  when the quantity or the day differs (a short or late delivery; 0 = never came). The newest
  receipt entered for (store, product, order close) replaces the default.

The book, day by day from the first count: closing(d) = last count + receipts − sales since,
where sales come from the sales table. A book that would go below zero stops at zero: the shelf
was empty, the day sold at most what was there and its real demand is unknown, so the day is
flagged **censored** (``censored_days``), and forecasting keeps it out of its error statistics.

In transit at the close of d (before d's own order): the orders of the evenings d − L + 1 .. d − 1
from the ledger (the newest version confirmed for that evening), or the simulation's estimate for
an evening nobody confirmed. Where a product has no count yet, the closing stock is the
simulation's estimate; every figure carries its source: "counted", "book" or "estimated".
"""

from __future__ import annotations

import datetime as dt
import getpass
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.ordering.ledger import OrderLedger, _as_date, _now

_COUNT_SCHEMA = {"entry_id": pl.String, "store_id": pl.Int64, "product_id": pl.Int64, "count_date": pl.Date,
                 "counted_qty": pl.Float64, "book_qty": pl.Float64, "shrinkage": pl.Float64, "entered_at": pl.String,
                 "entered_by": pl.String, "reason": pl.String}
_RECEIPT_SCHEMA = {"entry_id": pl.String, "store_id": pl.Int64, "product_id": pl.Int64, "order_date": pl.Date,
                   "received_date": pl.Date, "received_qty": pl.Float64, "entered_at": pl.String, "entered_by": pl.String,
                   "reason": pl.String}
BOOK_COLUMNS = ("date", "sales", "receipts", "book_before_count", "counted", "shrinkage", "closing", "censored")


def default_user() -> str:
    """Who enters an entry when nobody says: the operating-system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _units(value, what: str) -> float:
    try:
        q = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"The {what} is {value!r}, not a number; enter a number of units (0 or more).") from None
    if not math.isfinite(q) or q < 0:
        raise ValueError(f"The {what} is {value!r}; enter a number of units (0 or more).")
    return q


def _frame(rows, schema: dict) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    raw = {c: (pl.String if t == pl.Date else t) for c, t in schema.items()}
    frame = pl.DataFrame(rows, schema=raw, orient="row")
    return frame.with_columns(pl.col(c).str.to_date() for c, t in schema.items() if t == pl.Date)


class StockBook:
    """Counts and receipts of one ledger file (``OrderLedger`` path; created on the first entry)."""

    def __init__(self, path: Path | str | None = None, read_only: bool = False):
        self.ledger = path if isinstance(path, OrderLedger) else OrderLedger(path, read_only=read_only)

    @property
    def path(self) -> Path:
        return self.ledger.path

    def stamp(self, store: int) -> tuple:
        """Changes whenever a count, a receipt or a confirmation of the store is added (a cached sheet then recomputes)."""
        return (self.counts(store).height, self.receipts(store).height, self.ledger.confirmations(store).height)

    def _append(self, sql: str, row: tuple) -> None:
        if self.ledger.read_only:
            raise ValueError(f"The stock book {self.path} was opened read-only; enter counts on the Orders page or with "
                             f"`python -m engine stock count`.")
        self.ledger.append(sql, row)

    def add_count(self, store: int, product: int, date, counted, book: float | None = None, by: str | None = None,
                  reason: str | None = None) -> dict:
        """Append a count (closing stock at the end of ``date``); ``book``: the book's figure before it."""
        counted = _units(counted, f"count of product {product}")
        shrinkage = None if book is None else float(book) - counted
        row = (uuid.uuid4().hex, int(store), int(product), _as_date(date).isoformat(), counted,
               None if book is None else float(book), shrinkage, _now(), by or default_user(), (reason or "").strip() or None)
        self._append("INSERT INTO stock_counts (entry_id, store_id, product_id, count_date, counted_qty, book_qty, shrinkage, "
                     "entered_at, entered_by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return dict(zip(_COUNT_SCHEMA, (*row[:3], str(row[3]), *row[4:])))

    def add_receipt(self, store: int, product: int, received_date, received, order_date=None, by: str | None = None,
                    reason: str | None = None) -> dict:
        """Append a receipt: ``received`` units of ``product`` arrived before opening on ``received_date``
        (for the order confirmed at the close of ``order_date``; None = a delivery without an order)."""
        received = _units(received, f"received quantity of product {product}")
        order = None if order_date in (None, "") else _as_date(order_date).isoformat()
        day = _as_date(received_date)
        if order is not None and day <= _as_date(order):
            raise ValueError(f"The order of {order} cannot arrive on {day}: an order placed at the close arrives on a later day.")
        row = (uuid.uuid4().hex, int(store), int(product), order, day.isoformat(), received, _now(), by or default_user(),
               (reason or "").strip() or None)
        self._append("INSERT INTO stock_receipts (entry_id, store_id, product_id, order_date, received_date, received_qty, "
                     "entered_at, entered_by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return dict(zip(_RECEIPT_SCHEMA, row))

    def _rows(self, table: str, columns, store, product) -> list[tuple]:
        clauses, params = [], []
        if store is not None:
            clauses.append("store_id = ?")
            params.append(int(store))
        if product is not None:
            clauses.append("product_id = ?")
            params.append(int(product))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        try:
            return self.ledger.query(f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY rowid", tuple(params))
        except ValueError as exc:
            if "no such table" in str(exc):  # an older ledger opened read-only: no stock entries yet
                return []
            raise

    def counts(self, store: int | None = None, product: int | None = None) -> pl.DataFrame:
        """Every count entered, oldest first."""
        return _frame(self._rows("stock_counts", _COUNT_SCHEMA, store, product), _COUNT_SCHEMA)

    def receipts(self, store: int | None = None, product: int | None = None) -> pl.DataFrame:
        """Every receipt entered, oldest first."""
        return _frame(self._rows("stock_receipts", _RECEIPT_SCHEMA, store, product), _RECEIPT_SCHEMA)


# ------------------------------------------------------------------------------ the book
def confirmed_orders(ledger: OrderLedger, store: int, product: int | None = None) -> pl.DataFrame:
    """order_date, product_id, final_qty of the newest version confirmed for each close of ``store``."""
    hist = ledger.history(store)
    if hist.is_empty():
        return pl.DataFrame(schema={"order_date": pl.Date, "product_id": pl.Int64, "final_qty": pl.Float64})
    newest = hist.group_by("order_date").agg(pl.col("version").max().alias("newest"))
    hist = hist.join(newest, on="order_date").filter(pl.col("version") == pl.col("newest"))
    if product is not None:
        hist = hist.filter(pl.col("product_id") == int(product))
    return hist.select("order_date", "product_id", "final_qty").sort("order_date", "product_id")


def ledger_closes(ledger: OrderLedger, store: int) -> set[dt.date]:
    """The closes of ``store`` with at least one confirmed version."""
    hist = ledger.history(store)
    return set(hist["order_date"].to_list()) if hist.height else set()


def ledger_deliveries(ds, book: StockBook, store: int, product: int) -> list[tuple[dt.date, dt.date, float]]:
    """(close, day received, units) per confirmed order of the product: its arrival day and final quantity,
    or the newest receipt entered for it."""
    lead = ds.lead_time(int(product))
    override = {r["order_date"]: (r["received_date"], float(r["received_qty"]))
                for r in book.receipts(store, product).iter_rows(named=True) if r["order_date"] is not None}
    return [(r["order_date"], *override.get(r["order_date"], (r["order_date"] + dt.timedelta(days=lead), float(r["final_qty"]))))
            for r in confirmed_orders(book.ledger, store, product).iter_rows(named=True)]


def receipt_days(ds, book: StockBook, store: int, product: int) -> dict[dt.date, float]:
    """Units received per day: each confirmed order on its arrival day, unless a receipt was entered for it
    (the newest entry wins); plus deliveries entered without an order."""
    lead = ds.lead_time(int(product))
    entered = book.receipts(store, product)
    override: dict = {}
    out: dict[dt.date, float] = {}
    for r in entered.iter_rows(named=True):  # oldest first: a newer entry for the same order replaces an older one
        if r["order_date"] is None:
            out[r["received_date"]] = out.get(r["received_date"], 0.0) + float(r["received_qty"])
        else:
            override[r["order_date"]] = (r["received_date"], float(r["received_qty"]))
    for r in confirmed_orders(book.ledger, store, product).iter_rows(named=True):
        day, qty = override.pop(r["order_date"], (r["order_date"] + dt.timedelta(days=lead), float(r["final_qty"])))
        out[day] = out.get(day, 0.0) + qty
    for day, qty in override.values():  # a receipt entered for a close that has no confirmed order
        out[day] = out.get(day, 0.0) + qty
    return out


def daily_sales(ds, store: int, product: int) -> dict[dt.date, float]:
    s = (ds.sales.filter((pl.col("Store_ID") == int(store)) & (pl.col("Product_ID") == int(product)))
         .group_by("Date").agg(pl.col("Qty").sum()))
    return {d: float(q) for d, q in zip(s["Date"].to_list(), s["Qty"].fill_null(0.0).to_list()) if q is not None and math.isfinite(q)}


def book_days(ds, book: StockBook, store: int, product: int, end: dt.date | None = None) -> pl.DataFrame:
    """The book of (store, product) day by day from its first count through ``end`` (default: the last day
    of data); empty when nothing was counted yet. Columns: BOOK_COLUMNS."""
    end = ds.end if end is None else _as_date(end)
    counts = book.counts(store, product)
    schema = {"date": pl.Date, "sales": pl.Float64, "receipts": pl.Float64, "book_before_count": pl.Float64,
              "counted": pl.Float64, "shrinkage": pl.Float64, "closing": pl.Float64, "censored": pl.Boolean}
    if counts.is_empty() or counts["count_date"].min() > end:
        return pl.DataFrame(schema=schema)
    last_count: dict[dt.date, float] = {}
    for r in counts.iter_rows(named=True):  # oldest first: a recount of the same day replaces the earlier one
        last_count[r["count_date"]] = float(r["counted_qty"])
    sales = daily_sales(ds, store, product)
    received = receipt_days(ds, book, store, product)
    day = counts["count_date"].min()
    rows, closing = [], None
    while day <= end:
        s, rec = sales.get(day, 0.0), received.get(day, 0.0)
        before = None if closing is None else closing + rec - s
        censored = before is not None and before <= 1e-9 and s > 0
        before = None if before is None else max(0.0, before)
        if day in last_count:  # the count is the truth of the evening: the shelf was empty only if it says 0
            counted = last_count[day]
            closing = counted
            censored = counted <= 1e-9 and s > 0
        else:
            counted, closing = None, before
        rows.append((day, s, rec, before, counted, None if before is None or counted is None else before - counted, closing, censored))
        day += dt.timedelta(days=1)
    return pl.DataFrame(rows, schema=schema, orient="row")


def censored_days(ds, book: StockBook | None, store: int, product: int) -> set[dt.date]:
    """Days whose book closed at 0 while selling: demand unknown (at least the sales)."""
    if book is None:
        return set()
    days = book_days(ds, book, store, product)
    return set(days.filter(pl.col("censored"))["date"].to_list()) if days.height else set()


@dataclass
class StockPosition:
    store: int
    product: int
    date: dt.date
    closing: float
    closing_source: str  # "counted" (a count of this day) | "book" (last count + receipts − sales) | "estimated"
    in_transit: float
    in_transit_source: str  # "ledger" | "estimated" | "ledger + estimated"
    last_count: dt.date | None = None
    censored: bool = False

    def to_dict(self) -> dict:
        return {"store": self.store, "product": self.product, "date": str(self.date), "closing": self.closing,
                "closing_source": self.closing_source, "in_transit": self.in_transit, "in_transit_source": self.in_transit_source,
                "last_count": None if self.last_count is None else str(self.last_count), "censored": self.censored}


def stock_position(ds, book: StockBook | None, store: int, product: int, date, estimated_closing: float = 0.0,
                   estimated_orders: dict | None = None) -> StockPosition:
    """Closing stock and in transit at the close of ``date`` (see the module docstring).

    ``estimated_closing``: the simulation's closing stock of ``date`` (used when nothing was counted);
    ``estimated_orders``: {close: units} the simulation ordered (used for evenings nobody confirmed; None = no estimate:
    only the ledger counts)."""
    date = _as_date(date)
    lead = ds.lead_time(int(product))
    days = book_days(ds, book, store, product, date) if book is not None else pl.DataFrame()
    if days.height:
        last = days.filter(pl.col("counted").is_not_null())["date"].max()
        row = days.row(days.height - 1, named=True)
        closing, source, censored = float(row["closing"]), ("counted" if row["counted"] is not None else "book"), bool(row["censored"])
    else:
        last, closing, source, censored = None, float(estimated_closing), "estimated", False
    closes = ledger_closes(book.ledger, store) if book is not None else set()
    transit, sources = 0.0, set()
    for close, arrival, qty in (ledger_deliveries(ds, book, store, product) if closes else []):
        if close < date < arrival:  # confirmed before this close, not received yet (a late one included)
            transit += qty
            sources.add("ledger")
    for k in range(1, lead):
        close = date - dt.timedelta(days=k)  # an order of this evening arrives after ``date``
        if close in closes:
            sources.add("ledger")
        elif estimated_orders is not None:
            transit += float(estimated_orders.get(close, 0.0))
            sources.add("estimated")
    src = " + ".join(s for s in ("ledger", "estimated") if s in sources) or ("ledger" if closes else "estimated")
    return StockPosition(int(store), int(product), date, closing, source, transit, src, last, censored)


def count_stock(ds, book: StockBook, store: int, product: int, date, counted, by: str | None = None, reason: str | None = None,
                estimated_closing: float | None = None) -> dict:
    """Enter a count: the book's figure of that evening (or the estimate, when nothing was counted before) is
    stored beside it and the difference kept as shrinkage."""
    date = _as_date(date)
    if date > ds.end:
        raise ValueError(f"The count date {date} is after the last day of sales data ({ds.end}); count on or before it.")
    days = book_days(ds, book, store, product, date)
    before = days.row(days.height - 1, named=True) if days.height else None
    if before is not None:
        figure = before["book_before_count"] if before["book_before_count"] is not None else before["closing"]
    else:
        figure = estimated_closing
    return book.add_count(store, product, date, counted, book=figure, by=by, reason=reason)


def shrinkage(book: StockBook, store: int | None = None) -> pl.DataFrame:
    """Counts with a book figure beside them: the units missing (positive) or found (negative)."""
    c = book.counts(store)
    return c.filter(pl.col("shrinkage").is_not_null()).select("store_id", "product_id", "count_date", "book_qty", "counted_qty",
                                                               "shrinkage", "entered_by", "entered_at", "reason")
