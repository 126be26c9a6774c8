"""`python -m engine forecast`: backtest models on a test window, or (`forecast next`) the next LeadTime days.

`forecast next` prints, per product, the point forecasts of the days after the close, their quantiles
(P50..P99 per day and of the lead-window total) and the explanation that sums to each forecast.
"""

from __future__ import annotations

import datetime as dt
import sys
from engine.commands._options import product_ids
from engine.commands._output import print_json
from engine.data.dataset import load_dataset
from engine.forecasting import run_forecast
from engine.forecasting.lead_window import forecast_lead_window, next_days_table
from engine.data.dataset import store_products
from engine.data.storage import data_dir
from engine.commands._output import format_table


def _next(args, ds) -> int:
    close = args.close or ds.end
    products = product_ids(args.products) or store_products(ds, args.store)
    out = [forecast_lead_window(ds, args.store, p, close, model=args.models, models_dir=args.models_dir) for p in products]
    if args.json:
        print_json({"close": str(close), "forecasts": [q.to_dict() for q in out]})
        return 0
    for q in out:
        print(f"store {q.store} product {q.product}: the {q.lead_time} days after the close {q.origin}, model {q.model}")
        print(format_table(next_days_table(q).to_dicts()))
        for e in q.explanation:
            parts = " ".join(f"{k} {v:+,.0f}" for k, v in e["contributions"].items())
            print(f"  {e['day']}: baseline {e['baseline']:,.0f} {parts} = {e['forecast']:,.0f}")
        print()
    return 0


def _forecast(args) -> int:

    ds = load_dataset(args.data or data_dir())
    if args.action == "next":
        return _next(args, ds)
    if args.test_start is None or args.test_end is None:
        raise ValueError("a backtest needs --test-start and --test-end (or use `forecast next` for the days after the last close).")
    args.products = args.products or "3,12,42"

    def progress(name, frac, msg):
        if args.verbose:
            print(f"[{name}] {frac:4.0%} {msg}", file=sys.stderr)

    results = run_forecast(ds, args.store, product_ids(args.products), args.test_start, args.test_end, models=args.models,
                           models_dir=args.models_dir, progress=progress)
    if args.json:
        print_json({"results": [r.to_dict() for r in results]})
        return 0

    for r in results:
        print(f"store {r.store} product {r.product} (lead time {r.lead_time} days), test {r.test_start} to {r.test_end}: chosen {r.model}")
        rows = [{k: v for k, v in row.items() if k != "chosen"} | {"chosen": "*" if row["chosen"] else ""} for row in r.comparison().to_dicts()]
        print(format_table(rows))
        print()
    return 0


def register(sub) -> None:
    p = sub.add_parser("forecast", help="backtest forecasting models on a test window, or `forecast next`: the days after the close")
    p.add_argument("action", nargs="?", choices=["backtest", "next"], default="backtest",
                   help="backtest (default): train before --test-start and walk forward; next: quantiles and explanation of the next LeadTime days")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--store", type=int, default=44)
    p.add_argument("--products", default=None, help="product ids, comma-separated (backtest default 3,12,42; next: every product of the store)")
    p.add_argument("--test-start", type=dt.date.fromisoformat, default=None, help="first day of the test window (training uses days before it)")
    p.add_argument("--test-end", type=dt.date.fromisoformat, default=None)
    p.add_argument("--close", type=dt.date.fromisoformat, default=None, help="next: the close the forecast is made at (default: the last day of data)")
    p.add_argument("--models", default="auto", help="'auto' (cheap models), 'all' (adds LSTM and CNN) or a list like gboost,lstm,cnn; next: one model name or auto")
    p.add_argument("--models-dir", default=None, help="where fitted models are saved (default: <state>/models beside the data)")
    p.add_argument("--verbose", action="store_true", help="print training progress to stderr")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_forecast)
