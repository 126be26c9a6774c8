"""Inventory policies on the demo data: average stock, lost sales and fill rate vs the perfect-foresight bound.

Store 44, products 3, 12, 42, test window 2017-01-01..2017-03-31 (defaults). Forecasts come from
models trained before the validation days that precede the window (model 'auto': the best cheap
model by forward-chaining backtest). Per policy and product: the average stock, lost units, fill
rate and the ratio of the average stock to the perfect-foresight bound (orders = real demand).
Targets: the hindsight minimum (which uses the future) <= 1.5x the bound; the 99% service level
reaches a fill rate >= 99% on the test window. With --sheet the order sheet of the store (every
product) is timed twice: the first call trains and saves the models, the second reuses them.
"""

from __future__ import annotations

import datetime as dt
from engine.bench._support import bench_data
import time
from engine.data.dataset import load_dataset
from engine.inventory import evaluate_policy
from engine.inventory.forecasts import clear_cache
from engine.ordering.sheet import order_sheet

NOTES: list[str] = []

POLICIES = [
    ("hindsight minimum (uses the future)", "min-zero-loss", "best"),
    ("hindsight minimum (uses the future)", "min-zero-loss", "constant"),
    ("hindsight minimum (uses the future)", "min-zero-loss", "proportional"),
    ("hindsight minimum (uses the future)", "min-zero-loss", "weekday"),
    ("service level 95%", "service-level:0.95", "best"),
    ("service level 99%", "service-level:0.99", "best"),
    ("service level 99%", "service-level:0.99", "constant"),
    ("service level 99%", "service-level:0.99", "proportional"),
    ("service level 99%", "service-level:0.99", "weekday"),
    ("service level 99.5%", "service-level:0.995", "best"),
]


def add_arguments(parser) -> None:
    parser.add_argument("--store", type=int, default=44)
    parser.add_argument("--products", default="3,12,42")
    parser.add_argument("--test-start", type=dt.date.fromisoformat, default=dt.date(2017, 1, 1))
    parser.add_argument("--test-end", type=dt.date.fromisoformat, default=dt.date(2017, 3, 31))
    parser.add_argument("--model", default="auto")
    parser.add_argument("--sheet", action="store_true", help="also time the order sheet of the store (all products), cold and warm")


def run(args) -> list[dict]:

    rows = []
    NOTES.clear()
    with bench_data(args) as (folder, tmp):
        ds = load_dataset(folder)
        products = [int(p) for p in args.products.split(",")]
        models = f"{tmp}/models"
        t0 = time.perf_counter()
        for name, spec, form in POLICIES:
            r = evaluate_policy(ds, args.store, products, args.test_start, args.test_end, spec, form=form, model=args.model, models_dir=models)
            for p in r.products:
                rows.append({"policy": name, "form": form, "product": str(p.product), "chosen_form": p.plan.form, "model": p.model,
                             "safety_stock": p.safety_stock, "avg_stock_qty": p.kpis["avg_stock_qty"], "lost_qty": p.kpis["lost_qty"],
                             "fill_rate": p.kpis["fill_rate"], "bound_avg_stock_qty": p.bound["avg_stock_qty"], "ratio_to_bound": p.ratio_to_bound})
            t = r.total
            rows.append({"policy": name, "form": form, "product": "total", "chosen_form": "", "model": "", "safety_stock": None,
                         "avg_stock_qty": t["avg_stock_qty"], "lost_qty": t["lost_qty"], "fill_rate": t["fill_rate"],
                         "bound_avg_stock_qty": t["bound_avg_stock_qty"], "ratio_to_bound": t["ratio_to_bound"]})
        seconds = time.perf_counter() - t0
        NOTES.append(f"store {args.store}, products {args.products}, test window {args.test_start} to {args.test_end}, model {args.model}; "
                     f"{len(POLICIES)} policies in {seconds:.1f} s (including model training)")
        NOTES.append("ratio_to_bound = average stock / the perfect-foresight average stock (orders = real demand); total row: on inventory value")
        best_h = [r for r in rows if r["policy"].startswith("hindsight") and r["form"] == "best" and r["product"] == "total"][0]
        sl99 = [r for r in rows if r["policy"] == "service level 99%" and r["form"] == "best" and r["product"] == "total"][0]
        NOTES.append(f"hindsight minimum (best form): {best_h['ratio_to_bound']:.2f}x the bound (target <= 1.5x: "
                     f"{'met' if best_h['ratio_to_bound'] <= 1.5 else 'NOT met'})")
        NOTES.append(f"service level 99% (form chosen on validation days): fill rate {sl99['fill_rate']:.2%} on the test window (target >= 99%: "
                     f"{'met' if sl99['fill_rate'] >= 0.99 else 'NOT met'}), {sl99['ratio_to_bound']:.2f}x the bound")
        if getattr(args, "sheet", False):
            for label in ("cold (trains and saves models)", "warm (models reused from disk)"):
                clear_cache()
                t0 = time.perf_counter()
                sheet = order_sheet(ds, args.store, None, model=args.model, models_dir=models)
                NOTES.append(f"order sheet of store {args.store} ({len(sheet.lines)} products, {sheet.date}) {label}: {time.perf_counter() - t0:.1f} s")
    return rows
