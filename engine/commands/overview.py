"""`python -m engine overview`: the Home page's numbers."""

from __future__ import annotations

import datetime as dt

from engine.commands._output import print_json
from engine.data.dataset import load_dataset
from engine.analysis.overview import overview, top_products, top_stores
from engine.data.storage import data_dir, state_location


def _overview(args) -> int:
    folder = args.data or data_dir()
    ds = load_dataset(folder)
    state = state_location(folder)
    ov = overview(ds, args.start, args.end)
    stores = top_stores(ds, args.start, args.end, n=args.top)
    products = top_products(ds, args.start, args.end, n=args.top)
    if args.json:
        print_json({"overview": ov.to_dict(), "top_stores": stores.to_dicts(), "top_products": products.to_dicts(), "state": state.to_dict()})
        return 0
    change = "n/a" if ov.change_vs_previous_pct is None else f"{ov.change_vs_previous_pct:+.1f}%"
    print(f"{ov.start} to {ov.end} ({ov.days} days): {ov.stores} stores, {ov.products} products")
    print(f"the app's state (orders ledger, models, index) is kept in {state.path} ({state.reason})")
    print(f"units sold {ov.units:,.0f}  sales value ${ov.sales_value:,.0f}  units/day {ov.units_per_day:,.0f}  vs previous period {change}")
    print("top stores:")
    print(stores)
    print("top products:")
    print(products)
    return 0


def register(sub) -> None:
    p = sub.add_parser("overview", help="period, size, sales and top stores/products (the Home page's numbers)")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--start", type=dt.date.fromisoformat, default=None)
    p.add_argument("--end", type=dt.date.fromisoformat, default=None)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_overview)
