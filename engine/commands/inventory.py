"""`python -m engine inventory` (simulate a safety-stock policy on a window) and `python -m engine orders` (the order sheet)."""

from __future__ import annotations

import datetime as dt
from engine.commands._options import product_ids
from engine.commands._output import print_json
from engine.data.dataset import load_dataset
from engine.inventory import evaluate_policy
from engine.data.storage import data_dir
from engine.commands._output import format_table
from engine.ordering.sheet import order_sheet


def _inventory(args) -> int:

    ds = load_dataset(args.data or data_dir())
    result = evaluate_policy(ds, args.store, product_ids(args.products), args.test_start, args.test_end, args.safety_stock, form=args.form,
                             pack_size=args.pack_size, model=args.model, models_dir=args.models_dir)
    if args.json:
        print_json(result.to_dict())
        return 0

    print(f"store {result.store}, {result.start} to {result.end}, safety stock {result.policy} (form {result.form}), pack size {result.pack_size}")
    rows = []
    for row in result.kpi_table().to_dicts():
        rows.append({"product": row["product"], "safety_stock": row["safety_stock"], "avg_stock_qty": row["avg_stock_qty"],
                     "avg_inventory_value": row["avg_inventory_value"], "turnover": row["turnover"], "lost_qty": row["lost_qty"],
                     "fill_rate": row["fill_rate"], "stockout_days": row["stockout_days"], "days_of_cover": row["days_of_cover"],
                     "bound_avg_stock_qty": row["bound_avg_stock_qty"], "ratio_to_bound": row["ratio_to_bound"]})
    print(format_table(rows))
    for p in result.products:
        print(f"product {p.product}: {p.plan.label} (model {p.model})")
    return 0


def _orders(args) -> int:

    ds = load_dataset(args.data or data_dir())
    counted = {}
    for item in args.closing_stock or []:
        try:
            product, qty = item.split("=")
            counted[int(product)] = float(qty)
        except ValueError:
            raise ValueError(f"--closing-stock takes PRODUCT=COUNT (e.g. 3=1200), not {item!r}.") from None
    sheet = order_sheet(ds, args.store, args.date, products=product_ids(args.products), safety_stock=args.safety_stock,
                        closing_stock=counted or None, model=args.model, models_dir=args.models_dir, form=args.form, pack_size=args.pack_size)
    if args.json:
        print_json(sheet.to_dict())
        return 0

    print(f"order sheet of store {sheet.store} at the close of {sheet.date} (orders placed at 22:00), safety stock {sheet.policy}")
    print(format_table([{"product": ln.product, "lead_time": ln.lead_time, "closing_stock": ln.closing_stock, "source": ln.closing_source,
                         "in_transit": ln.in_transit, "transit_source": ln.in_transit_source, "forecast": sum(ln.forecasts),
                         "safety_stock": ln.safety_stock, "recommended": ln.recommended, "reason": ln.reason} for ln in sheet.lines]))
    for ln in sheet.lines:
        print(f"product {ln.product}: {ln.why_level} (model {ln.model}){' — CENSORED: the shelf closed empty' if ln.censored else ''}")
    return 0


def _common(p, products_default: str | None) -> None:
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--store", type=int, default=44)
    p.add_argument("--products", default=products_default, help="product ids, comma-separated (default: " + (products_default or "every product the store sells") + ")")
    p.add_argument("--safety-stock", default="service-level:0.99",
                   help="min-zero-loss (inventory only, hindsight: uses the future), service-level[:0.99] (fill rate promised), "
                        "quantile:Q and cost[:yearly carrying rate] (orders, inventory with --form sheet) or units")
    p.add_argument("--form", default="sheet", choices=["sheet", "constant", "proportional", "weekday", "best"],
                   help="inventory: sheet = the order sheet's rule, each evening's quantile (default); constant / proportional / "
                        "weekday = the seed's one safety stock for the window, best = compare them; orders: ignored")
    p.add_argument("--pack-size", type=int, default=1, help="round orders up to whole packs of this many units")
    p.add_argument("--model", default="auto", help="forecasting model (auto = best cheap model by backtest)")
    p.add_argument("--models-dir", default=None, help="where fitted models are saved (default: <state>/models beside the data)")
    p.add_argument("--json", action="store_true")


def register(sub) -> None:
    p = sub.add_parser("inventory", help="simulate the order-up-to policy on a window: KPIs, lost sales, ratio to the perfect-foresight bound")
    _common(p, "3,12,42")
    p.add_argument("--test-start", type=dt.date.fromisoformat, required=True, help="first evaluated day (models train before it)")
    p.add_argument("--test-end", type=dt.date.fromisoformat, required=True)
    p.set_defaults(func=_inventory)
    o = sub.add_parser("orders", help="the order sheet for a store's close: closing stock, in transit, forecasts, safety stock, recommended order")
    _common(o, None)
    o.add_argument("--date", type=dt.date.fromisoformat, default=None, help="business date of the close (default: the last day of data)")
    o.add_argument("--closing-stock", action="append", metavar="PRODUCT=COUNT",
                   help="a counted closing stock that replaces the simulated one (repeatable)")
    o.set_defaults(func=_orders)
