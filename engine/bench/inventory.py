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
import os
from engine.bench._support import bench_data
import time
from engine.data import memo
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
    parser.add_argument("--sheet-only", action="store_true", help="only time the order sheet of the store, cold and warm")
    parser.add_argument("--models-dir", default=None, help="keep the trained models here (a rerun reuses them; default: a temporary folder)")
    parser.add_argument("--months", default=None, metavar="YYYY-MM..YYYY-MM",
                        help="monthly mode: simulate each month with models trained before it (all products unless --products "
                             "is given), the close-trained quantile policy beside the hindsight minimum and the seed's constant rule")


def _months(text: str) -> list[tuple[dt.date, dt.date]]:
    first, _, last = text.partition("..")
    try:
        a, b = dt.date.fromisoformat(first.strip() + "-01"), dt.date.fromisoformat((last or first).strip() + "-01")
    except ValueError:
        raise ValueError(f"--months must be YYYY-MM..YYYY-MM (e.g. 2016-07..2016-12), not {text!r}.") from None
    out = []
    while a <= b:
        nxt = (a + dt.timedelta(days=32)).replace(day=1)
        out.append((a, nxt - dt.timedelta(days=1)))
        a = nxt
    return out


MONTHLY = [
    ("service level 99% (fill-rate quantile, no hindsight)", "new", "service-level:0.99"),
    ("quantile 99% (cycle service level, no hindsight)", "new", "quantile:0.99"),
    ("hindsight minimum, constant (seed pilot: uses the future)", "hindsight", "min-zero-loss"),
    ("seed rule: constant service level 99% (model 112+ days old)", "seed", "service-level:0.99"),
]


def _monthly(args, ds, models: str) -> list[dict]:
    from engine.data.dataset import store_products
    from engine.inventory.evaluate import simulate_product
    from engine.inventory.kpis import ratio
    from engine.inventory.evaluate import evaluate_quantile_policy, quantile_window
    from engine.inventory.safety import make_plan

    products = store_products(ds, args.store, [int(p) for p in args.products.split(",")] if args.products_given else None)
    acc: dict = {}  # (policy, product) -> sums
    t0 = time.perf_counter()
    for start, end in _months(args.months):
        for name, kind, spec in MONTHLY:
            if kind == "new":
                result = evaluate_quantile_policy(ds, args.store, products, start, end, spec, args.model, models)
                items = result.products
            elif kind == "hindsight":
                items = []
                for p in products:
                    lw = quantile_window(ds, args.store, p, start, end, args.model, models)[0]
                    items.append(simulate_product(ds, lw, make_plan(lw, spec, "constant")))
            else:
                items = evaluate_policy(ds, args.store, products, start, end, spec, form="constant", model=args.model, models_dir=models).products
            for item in items:
                a = acc.setdefault((name, item.product), {"sold": 0.0, "demand": 0.0, "value": 0.0, "bound_value": 0.0, "qty": 0.0,
                                                          "bound_qty": 0.0, "levels": []})
                a["sold"] += item.kpis["sold_qty"]
                a["demand"] += item.kpis["demand_qty"]
                a["value"] += item.kpis["avg_inventory_value"] * item.kpis["days"]
                a["bound_value"] += item.bound["avg_inventory_value"] * item.bound["days"]
                a["qty"] += item.kpis["avg_stock_qty"] * item.kpis["days"]
                a["bound_qty"] += item.bound["avg_stock_qty"] * item.bound["days"]
                if item.plan.level is not None:
                    a["levels"].append(item.plan.level)
        NOTES.append(f"{start:%Y-%m} done after {time.perf_counter() - t0:.0f} s")
    rows = []
    for name, _, _ in MONTHLY:
        keys = [k for k in acc if k[0] == name]
        for _, product in keys:
            a = acc[(name, product)]
            rows.append({"policy": name, "product": str(product), "fill_rate": a["sold"] / a["demand"] if a["demand"] else 1.0,
                         "lost_share": 1 - a["sold"] / a["demand"] if a["demand"] else 0.0,
                         "ratio_to_bound": ratio(a["qty"], a["bound_qty"]),
                         "quantile_level": (sum(a["levels"]) / len(a["levels"])) if a["levels"] else None})
        tot = {k: sum(acc[key][k] for key in keys) for k in ("sold", "demand", "value", "bound_value")}
        rows.append({"policy": name, "product": "total (by value)", "fill_rate": tot["sold"] / tot["demand"] if tot["demand"] else 1.0,
                     "lost_share": 1 - tot["sold"] / tot["demand"] if tot["demand"] else 0.0,
                     "ratio_to_bound": ratio(tot["value"], tot["bound_value"]), "quantile_level": None})
    NOTES.append(f"store {args.store}, products {', '.join(map(str, products))}, months {args.months}, model {args.model}: "
                 f"{time.perf_counter() - t0:.0f} s in all (including model training)")
    NOTES.append("ratio_to_bound = average stock / the perfect-foresight average stock over all months (per product: units; total: "
                 "inventory value). Targets for the 99 % policy: fill >= 99 %, <= 1.8x overall, <= 2.0x every product")
    new = [r for r in rows if r["policy"] == MONTHLY[0][0]]
    total = new[-1]
    worst = max((r["ratio_to_bound"] or 0.0) for r in new[:-1]) if len(new) > 1 else 0.0
    NOTES.append(f"{MONTHLY[0][0]}: fill {total['fill_rate']:.2%} ({'met' if total['fill_rate'] >= 0.99 else 'NOT met'}), "
                 f"{total['ratio_to_bound']:.2f}x overall ({'met' if total['ratio_to_bound'] <= 1.8 else 'NOT met'}), "
                 f"worst product {worst:.2f}x ({'met' if worst <= 2.0 else 'NOT met'})")
    return rows


def _sheet_only(args, folder, models: str) -> list[dict]:
    """The sheet twice, each time on a freshly loaded Dataset with nothing in memory (the app loads and checks the
    data once per server process and keeps it: that load is timed apart, as `load_s`)."""
    rows = []
    for label in ("cold (trains the models up to the close)", "warm (the close's models on disk)"):
        clear_cache()
        memo.clear()
        t0 = time.perf_counter()
        ds = load_dataset(folder)
        t1, c1 = time.perf_counter(), time.process_time()
        sheet = order_sheet(ds, args.store, None, model=args.model, models_dir=models, book=False)
        rows.append({"call": label, "products": len(sheet.lines), "close": str(sheet.date), "wall_s": time.perf_counter() - t1,
                     "cpu_s": time.process_time() - c1, "load_s": t1 - t0})
    NOTES.clear()
    NOTES.append(f"store {args.store}, model {args.model}; load average {os.getloadavg()[0]:.1f} at the end. Targets: warm <= 5 s, cold <= 30 s "
                 "(wall_s: the sheet itself; load_s: reading and checking the data, done once per server process)")
    return rows


def run(args) -> list[dict]:
    if getattr(args, "sheet_only", False):
        NOTES.clear()
        with bench_data(args) as (folder, tmp):
            return _sheet_only(args, folder, args.models_dir or f"{tmp}/models")
    if getattr(args, "months", None):
        NOTES.clear()
        args.products_given = args.products != "3,12,42"
        with bench_data(args) as (folder, tmp):
            return _monthly(args, load_dataset(folder), args.models_dir or f"{tmp}/models")

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
