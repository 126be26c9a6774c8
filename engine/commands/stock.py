"""`python -m engine stock count|receive|show`: enter counts and receipts into the stock book, print the book."""

from __future__ import annotations

import datetime as dt

import polars as pl

from engine.commands._output import format_table, print_json
from engine.data.dataset import load_dataset
from engine.data.storage import data_dir
from engine.ordering.ledger import default_ledger_path
from engine.ordering.stockbook import StockBook, book_days, count_stock, default_user, shrinkage, stock_position


def _date(text: str | None, ds, what: str) -> dt.date:
    if text is None:
        return ds.end
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} must be a date written YYYY-MM-DD (e.g. 2016-12-30), not {text!r}.") from None


def _open(args, read_only: bool = False):
    ds = load_dataset(args.data or data_dir())
    if args.product not in ds.product_ids:
        raise ValueError(f"product {args.product} is not in the products table; pick one of {', '.join(map(str, ds.product_ids))}.")
    return ds, StockBook(args.ledger or default_ledger_path(ds.folder), read_only=read_only)


def _count(args) -> int:
    ds, book = _open(args)
    entry = count_stock(ds, book, args.store, args.product, _date(args.date, ds, "--date"), args.units, by=args.by, reason=args.reason)
    if args.json:
        print_json(entry)
    else:
        extra = (f"; the book said {entry['book_qty']:,.0f}, shrinkage {entry['shrinkage']:,.0f}" if entry["book_qty"] is not None else
                 "; the first count of this product (no book figure before it)")
        print(f"Counted {entry['counted_qty']:,.0f} units of product {args.product} at store {args.store} on {entry['count_date']} "
              f"(by {entry['entered_by']}){extra}.")
    return 0


def _receive(args) -> int:
    ds, book = _open(args)
    entry = book.add_receipt(args.store, args.product, _date(args.date, ds, "--date"), args.units, order_date=args.order_date,
                             by=args.by, reason=args.reason)
    if args.json:
        print_json(entry)
    else:
        order = f" for the order of {entry['order_date']}" if entry["order_date"] else " (no order)"
        print(f"Received {entry['received_qty']:,.0f} units of product {args.product} at store {args.store} on {entry['received_date']}"
              f"{order} (by {entry['entered_by']}).")
    return 0


def _show(args) -> int:
    ds, book = _open(args, read_only=True)
    date = _date(args.date, ds, "--date")
    pos = stock_position(ds, book, args.store, args.product, date)
    start = date - dt.timedelta(days=args.days - 1)
    days = book_days(ds, book, args.store, args.product, date).filter(pl.col("date") >= start)
    counts = book.counts(args.store, args.product)
    receipts = book.receipts(args.store, args.product)
    if args.json:
        print_json({"position": pos.to_dict(), "days": days.to_dicts(), "counts": counts.to_dicts(), "receipts": receipts.to_dicts(),
                    "shrinkage": shrinkage(book, args.store).filter(pl.col("product_id") == args.product).to_dicts()})
        return 0
    if pos.closing_source == "estimated":
        print(f"No count of product {args.product} at store {args.store} on or before {date}: the book starts at the first count "
              f"(`python -m engine stock count`); the order sheet estimates the stock until then.")
    else:
        print(f"Store {args.store}, product {args.product}, close of {date}: closing {pos.closing:,.0f} ({pos.closing_source}, last count "
              f"{pos.last_count}), in transit {pos.in_transit:,.0f} ({pos.in_transit_source}){', CENSORED (shelf empty)' if pos.censored else ''}.")
        print(format_table(days.to_dicts()))
    return 0


def register(sub) -> None:
    p = sub.add_parser("stock", help="the stock book: enter counts and receipts, show closing stock and in transit")
    actions = p.add_subparsers(dest="action", required=True)
    for name, func, help_text in (("count", _count, "enter a counted closing stock (resets the book; the difference is shrinkage)"),
                                  ("receive", _receive, "enter a receipt that differs from the confirmed order (quantity or day)"),
                                  ("show", _show, "print the book of one product: closing stock, in transit, where each comes from")):
        a = actions.add_parser(name, help=help_text)
        a.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
        a.add_argument("--ledger", default=None, help="ledger file that holds the book (default: <state>/ledger.sqlite beside the data)")
        a.add_argument("--store", type=int, required=True)
        a.add_argument("--product", type=int, required=True)
        a.add_argument("--date", default=None, help="the day (YYYY-MM-DD; default: the last day of data): counted at its close / received before its opening")
        if name != "show":
            a.add_argument("--units", type=float, required=True, help="units counted / received")
            a.add_argument("--by", default=default_user(), help="who enters it (default: the OS user)")
            a.add_argument("--reason", default=None, help="why (kept with the entry)")
        if name == "receive":
            a.add_argument("--order-date", default=None, help="the close of the confirmed order this delivery is for (YYYY-MM-DD)")
        if name == "show":
            a.add_argument("--days", type=int, default=14, help="days of the book to print (default 14)")
        a.add_argument("--json", action="store_true")
        a.set_defaults(func=func)
