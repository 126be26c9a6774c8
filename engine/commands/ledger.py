"""Ledger commands: `ledger` prints the confirmed orders, `confirm` confirms an order sheet (as the Orders page does)."""

from __future__ import annotations

import datetime as dt
import sys

import polars as pl
from engine.commands._output import print_json
from engine.ordering.ledger import OrderLedger, default_ledger_path
from engine.commands._output import format_table
from engine.data.dataset import load_dataset
from engine.ordering.confirmation import confirm_sheet
from engine.ordering.sheet import order_sheet
from engine.data.storage import data_dir
from engine.access.roles import os_user


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--date must be a date written YYYY-MM-DD (e.g. 2017-03-15), not {text!r}.") from None


def _pairs(values: list[str] | None, what: str) -> dict[int, float]:
    out = {}
    for text in values or []:
        product, sep, qty = text.partition("=")
        try:
            out[int(product)] = float(qty)
        except ValueError:
            raise ValueError(f"{what} must be PRODUCT=UNITS (e.g. 3=120), not {text!r}.") from None
        if not sep:
            raise ValueError(f"{what} must be PRODUCT=UNITS (e.g. 3=120), not {text!r}.")
    return out


def _fva(args) -> int:
    from engine.ordering.fva import after_the_fact, fva_summary

    ds = load_dataset(args.data or data_dir())
    ledger = OrderLedger(args.ledger or default_ledger_path(ds.folder), read_only=True)
    orders = after_the_fact(ds, ledger, args.store)
    summary = fva_summary(orders)
    if args.json:
        print_json({"ledger": str(ledger.path), "summary": summary.to_dicts(),
                    "orders": orders.with_columns(pl.col("order_date").cast(pl.String)).to_dicts()})
        return 0
    if orders.is_empty():
        print(f"No confirmed order in {ledger.path} has a known outcome yet (its lead window must lie in the sales data, "
              f"with no censored day); confirm orders on the Orders page first.")
        return 0
    print(f"{orders.height} confirmed order line(s) with a known outcome: bias = (forecast - actual) / actual, "
          f"FVA = 1 - WAPE / WAPE of the reference (positive = better)")
    print(format_table(summary.to_dicts()))
    if args.lines:
        print(format_table(orders.drop("store").to_dicts()))
    return 0


def _ledger(args) -> int:
    if getattr(args, "action", None) == "fva":
        return _fva(args)

    ledger = OrderLedger(args.ledger or default_ledger_path(args.data))
    date = _date(args.date) if args.date else None
    if args.csv:
        sys.stdout.write(ledger.history_csv(args.store, date))
        return 0
    history = ledger.history(args.store, date)
    if args.json:
        print_json({"ledger": str(ledger.path), "confirmations": ledger.confirmations(args.store, date).to_dicts(),
                    "lines": history.to_dicts()})
        return 0

    if history.is_empty():
        where = " for " + ", ".join(x for x in (f"store {args.store}" if args.store is not None else "",
                                                 f"date {date}" if date else "") if x) if (args.store is not None or date) else ""
        print(f"No confirmed orders{where} in {ledger.path}.")
        return 0
    print(f"{ledger.path}: {history.select('store_id', 'order_date', 'version').unique().height} confirmation(s), newest first")
    shown = history.drop("confirmation_id").with_columns(pl.col("reason", "confirmed_by").fill_null(""))
    print(format_table(shown.to_dicts()))
    return 0


def _confirm(args) -> int:

    ds = load_dataset(args.data or data_dir())
    date = _date(args.date)
    products = args.product or []
    finals = args.final or []
    if len(products) != len(finals):
        raise ValueError(f"Give one --final for each --product ({len(products)} product(s), {len(finals)} final quantity(ies)).")
    reasons_given = args.reason or []
    if len(reasons_given) not in (0, 1, len(products)) or (len(reasons_given) == 1 and not products):
        raise ValueError("Give one --reason for each --product, or a single --reason for all of them.")
    reasons = dict(zip(products, reasons_given * len(products) if len(reasons_given) == 1 else reasons_given))
    closing = _pairs(args.closing, "--closing")
    sheet = order_sheet(ds, args.store, date, closing_stock=closing or None, safety_stock=args.safety_stock, model=args.model)
    ledger = OrderLedger(args.ledger or default_ledger_path(ds.folder))
    result = confirm_sheet(sheet, dict(zip(products, finals)), reasons, client_token=args.token, confirmed_by=args.by or os_user(), ledger=ledger)
    if args.json:
        print_json(result.to_dict())
    else:
        changed = sum(1 for line in result.lines if line["final"] != line["recommended"])
        total = sum(line["final"] for line in result.lines)
        print(f"{result.message}: {len(result.lines)} products, {total:,.0f} units, {changed} changed from the recommendation "
              f"(ledger {result.ledger}).")
    return 0


def register(sub) -> None:
    p = sub.add_parser("ledger", help="print the confirmed orders (all versions, newest first)")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current); the ledger is <state>/ledger.sqlite beside it")
    p.add_argument("--ledger", default=None, help="ledger file (default: the data folder's)")
    p.add_argument("--store", type=int, default=None)
    p.add_argument("--date", default=None, help="business date YYYY-MM-DD")
    p.add_argument("--csv", action="store_true", help="print the history as CSV")
    p.add_argument("--json", action="store_true")
    p.add_argument("action", nargs="?", choices=["fva"], default=None,
                   help="fva: after the fact, per confirmed order: recommended vs chosen vs actual demand; bias and forecast value "
                        "added of the model, the weekday mean and the buyer")
    p.add_argument("--lines", action="store_true", help="fva: also print every order line")
    p.set_defaults(func=_ledger)

    c = sub.add_parser("confirm", help="confirm the order sheet of a store and date into the ledger (a new version each time)")
    c.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    c.add_argument("--ledger", default=None, help="ledger file (default: <state>/ledger.sqlite beside the data)")
    c.add_argument("--store", type=int, required=True)
    c.add_argument("--date", required=True, help="business date YYYY-MM-DD (the close the order is placed at)")
    c.add_argument("--product", type=int, action="append", help="a product whose final quantity differs (repeat with --final)")
    c.add_argument("--final", type=float, action="append", help="final quantity of the --product at the same position")
    c.add_argument("--reason", action="append", help="reason for the change (needed when it is more than 20%%); one per --product or one for all")
    c.add_argument("--closing", action="append", metavar="PRODUCT=UNITS", help="counted closing stock (the real count wins; repeatable)")
    c.add_argument("--safety-stock", default="service-level:0.99", help="safety stock method, as for `orders`")
    c.add_argument("--model", default="auto")
    c.add_argument("--by", default=None, help="who confirms, stored with the version (default: the OS user)")
    c.add_argument("--token", default=None, help="client token: the same token twice is one confirmation (default: a new one)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_confirm)
