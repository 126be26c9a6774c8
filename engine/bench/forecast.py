"""Forecast benchmark: rolling monthly windows, every product of the store, horizon = LeadTime.

Each window (default: each of the last 6 whole months of the data) is forecast by every candidate
trained only on days before it; the choice and the calibration errors come from selection folds
before it. Prints per model WAPE, RMSE, MASE, bias averaged over products and windows (``chosen``
is the model the product picks per product and window), statsforecast peers (AutoETS, MSTL 7+365,
AutoTheta) on the same days and horizon in the same process, the selection regret, and the
coverage and scaled pinball loss of the lead-window total's quantiles.
Targets (real-store44-dev, 2016-07..2016-12): chosen WAPE >= 15 % below weekday_mean4 and below the
best peer; regret <= 2 %; P90 coverage 87-93 %, P99 97.5-100 %; cheap + pooled models <= 5 min.
"""

from __future__ import annotations

import datetime as dt
import time

from engine.bench._support import bench_data
from engine.data.dataset import load_dataset
from engine.forecasting.evaluation import evaluate, monthly_windows
from engine.forecasting.models import REFERENCE_BASELINE

NOTES: list[str] = []


def add_arguments(parser) -> None:
    parser.add_argument("--store", type=int, default=44)
    parser.add_argument("--products", default=None, help="product ids, comma-separated (default: every product of the store)")
    parser.add_argument("--months", type=int, default=6, help="how many of the last whole months are test windows")
    parser.add_argument("--models", default="auto", help="'auto' (cheap + pooled), 'all' (adds LSTM and CNN) or a list")
    parser.add_argument("--no-peers", action="store_true", help="skip the statsforecast peers")
    parser.add_argument("--peers", default="AutoETS,MSTL,AutoTheta",
                        help="statsforecast peers to run (MSTL costs about 20 s of CPU per product and month)")
    parser.add_argument("--overall-only", action="store_true", help="only the rows averaged over products (no per-product rows)")


def run(args) -> list[dict]:
    with bench_data(args) as (folder, tmp):
        ds = load_dataset(folder)
        products = [int(p) for p in args.products.split(",")] if args.products else None
        windows = monthly_windows(ds, args.months)
        t0 = time.perf_counter()
        peers = () if args.no_peers else tuple(p.strip() for p in args.peers.split(",") if p.strip())
        ev = evaluate(ds, args.store, products, windows, models=args.models, models_dir=f"{tmp}/models", peers=peers)
        total = time.perf_counter() - t0
    summary = {r["model"]: r for r in ev.summary()}
    chosen, ref = summary["chosen"]["wape"], summary[REFERENCE_BASELINE]["wape"]
    peers = {m: r["wape"] for m, r in summary.items() if m.startswith("sf_")}
    regret = ev.regret()
    NOTES.clear()
    NOTES.extend([
        f"store {args.store}, windows {windows[0][0]} .. {windows[-1][1]} ({len(windows)} months), horizon = LeadTime; "
        f"models {ev.seconds['models']:.0f} s, peers {ev.seconds.get('peers', 0):.0f} s, total {total:.0f} s",
        f"chosen WAPE {chosen:.4f} vs {REFERENCE_BASELINE} {ref:.4f}: {1 - chosen / ref:+.1%} (target >= +15%)"
        + (f"; best peer {min(peers, key=peers.get)} {min(peers.values()):.4f}" if peers else ""),
        f"selection regret (chosen / best single candidate - 1, per product and window): mean {regret['mean']:+.2%}, "
        f"max {regret['max']:+.2%} (target <= 2%); chosen: {regret['chosen']}",
        "lead-window total quantiles: " + ", ".join(
            f"P{round(c['level'] * 100)} coverage {c['coverage']:.1%} pinball/mean {c['scaled_pinball']:.4f}" for c in ev.coverage_summary())
        + " (targets: P90 87-93%, P99 97.5-100%)",
    ])
    rows = [{"product": "all", "model": r["model"], "wape": r["wape"], "rmse": r["rmse"], "mase": r["mase"], "bias": r["bias"],
             "windows": r["n"]} for r in ev.summary()]
    if not args.overall_only:
        rows += ev.per_product()
    return rows
