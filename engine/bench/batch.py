"""Nightly batch throughput: series/second on a LocalCluster with 1 and 2 workers, the speed-up and the CPU per series.

Default: the demo chain, all 54 stores x the pilot products 3, 12, 42, models ``auto`` (the pooled
model among them: one task per store fits it once for the store). Every run starts from an empty
model folder and an empty output folder, so each run does the same work (nothing reused, nothing
skipped). The partitioned copy of the data is written once before the runs. Per run: wall and CPU
seconds per task (a task = one store) and per series, the speed-up over the first run and the
parallel efficiency (speed-up / workers). Targets: >= 1.7x from 1 to 2 workers (needs two otherwise
idle cores), <= 5 s of CPU per series.
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
    parser.add_argument("--models", default="auto")
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
            n_series, n_tasks = max(1, s["series_computed"]), max(1, s["tasks"])
            rows.append({"workers": n, "tasks": s["tasks"], "series": s["series_total"], "ok": s["series_ok"], "failed": s["series_failed"],
                         "cluster_start_s": s["cluster_start_seconds"], "tasks_wall_s": wall, "total_s": round(total, 1),
                         "series_per_s": s["series_computed"] / wall if wall else None,
                         "wall_s_per_task": s["task_seconds"] / n_tasks, "cpu_s_per_task": s["task_cpu_seconds"] / n_tasks,
                         "cpu_s_per_series": s["task_cpu_seconds"] / n_series, "load_before": loads[-2], "load_after": loads[-1]})
    base = rows[0]["series_per_s"] if rows else None
    for r in rows:
        r["speedup"] = r["series_per_s"] / base if base and r["series_per_s"] else None
        r["efficiency"] = r["speedup"] * rows[0]["workers"] / r["workers"] if r["speedup"] else None
    NOTES.clear()
    NOTES.append(f"models {args.models}; stores {args.stores}; products {args.products}; {os.cpu_count()} CPU(s); "
                 f"1-minute load average before/after each run in the table (anything above ~0.5 before a run shares the cores)")
    if len(rows) >= 2 and rows[-1]["speedup"]:
        NOTES.append(f"speed-up {rows[0]['workers']} -> {rows[-1]['workers']} workers: {rows[-1]['speedup']:.2f}x (target >= 1.7x from 1 to 2), "
                     f"parallel efficiency {rows[-1]['efficiency']:.0%}")
    if rows:
        per = rows[0]["cpu_s_per_series"]
        series = 1000 * 1000
        core_hours = series * per / 3600
        NOTES.append(f"CPU per series (1 worker): {per:.2f} s (target <= 5 s) -> 1,000 stores x 1,000 products = {series:,} series x "
                     f"{per:.2f} s = {core_hours:,.0f} core-hours; on 100 workers at the measured efficiency "
                     f"~ {core_hours / 100 / (rows[-1]['efficiency'] or 1):.1f} h")
    return rows
