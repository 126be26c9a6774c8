"""Nightly batch throughput: series/second on a LocalCluster with 1 and 2 workers, and the speed-up.

Default: the demo chain, all 54 stores x the pilot products 3, 12, 42, models weekday_mean4 + gboost.
Every run starts from an empty model folder and an empty output folder, so each run does the same
work (nothing reused, nothing skipped). The partitioned copy of the data is written once before the
runs. Target: >= 1.7x from 1 to 2 workers (needs two otherwise idle cores).
"""

from __future__ import annotations

import os

from engine.bench._support import bench_data
import time
from pathlib import Path

from engine.batch.partitions import write_partitions
from engine.batch.runner import run_batch
from engine.data.dataset import load_dataset
from engine.data.storage import state_dir

NOTES: list[str] = []


def add_arguments(parser) -> None:
    parser.add_argument("--stores", default="all", help="'all' or store ids (e.g. 44,45)")
    parser.add_argument("--products", default="3,12,42")
    parser.add_argument("--models", default="weekday_mean4,gboost")
    parser.add_argument("--workers-list", default="1,2", help="worker counts to time, comma-separated")


def run(args) -> list[dict]:
    counts = [int(w) for w in str(args.workers_list).split(",") if w.strip()]
    rows, loads = [], []
    with bench_data(args) as (folder, tmp):
        ds = load_dataset(folder)
        write_partitions(ds, state_dir(Path(folder)))
        for n in counts:
            loads.append(os.getloadavg()[0])
            # a fresh model folder and output folder: every run fits every model (the model cache is cleared)
            t0 = time.perf_counter()
            s = run_batch(folder, stores=args.stores, products=args.products, models=args.models, workers=n, ds=ds,
                          out=Path(tmp) / f"out-{n}", models_dir=Path(tmp) / f"models-{n}")
            total = time.perf_counter() - t0
            loads.append(os.getloadavg()[0])
            wall = s["tasks_wall_seconds"]
            rows.append({"workers": n, "series": s["series_total"], "ok": s["series_ok"], "failed": s["series_failed"],
                         "cluster_start_s": s["cluster_start_seconds"], "tasks_wall_s": wall, "total_s": round(total, 1),
                         "series_per_s": s["series_computed"] / wall if wall else None,
                         "task_s_mean": s["task_seconds"] / max(1, s["series_computed"])})
    base = rows[0]["series_per_s"] if rows else None
    for r in rows:
        r["speedup"] = r["series_per_s"] / base if base and r["series_per_s"] else None
    NOTES.clear()
    NOTES.append(f"models {args.models}; stores {args.stores}; products {args.products}; {os.cpu_count()} CPU(s); "
                 f"1-minute load average around the runs: {', '.join(f'{x:.1f}' for x in loads)} (other processes share the cores)")
    if len(rows) >= 2 and rows[-1]["speedup"]:
        NOTES.append(f"speed-up {rows[0]['workers']} -> {rows[-1]['workers']} workers: {rows[-1]['speedup']:.2f}x (target >= 1.7x from 1 to 2)")
    if rows:
        per = rows[0]["task_s_mean"]
        series = 1000 * 1000
        core_hours = series * per / 3600
        NOTES.append(f"per-series cost (1 worker, mean task time): {per:.2f} s -> 1,000 stores x 1,000 products = {series:,} series x "
                     f"{per:.2f} s = {core_hours:,.0f} core-hours; on 100 workers at 90% efficiency ~ {core_hours / 100 / 0.9:.1f} h")
    return rows
