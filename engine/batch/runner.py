"""``run_batch``: plan the series, run the ones whose inputs changed as Dask tasks, gather the outputs.

The CLI (`python -m engine batch`) and the Nightly batch page both call this function.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from engine.batch.plan import SeriesSpec, check_close_date, plan_series
from engine.batch.summary import default_batch_dir, write_atomic, write_summary
from engine.batch.task import RESULT_FILES, TaskSettings, failed_status, has_results, run_series, run_store, series_folder
from engine.batch.cluster import dask_client
from engine.data.dataset import load_dataset
from engine.forecasting.models import parse_models
from engine.forecasting.store import default_models_dir
from engine.data.storage import data_dir, state_dir
from engine.batch.partitions import write_partitions

DEFAULT_MODELS = "auto"
DEFAULT_SAFETY = "service-level:0.99"
# progress(done, total, failed, status of the series just finished)
BatchProgress = Callable[[int, int, int, dict], None]

FAILURE_SCHEMA = {"store": pl.Int32, "product": pl.Int32, "error": pl.String, "detail": pl.String}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def by_store(todo: list[SeriesSpec]) -> list[list[SeriesSpec]]:
    """The planned series grouped into one task per store (largest groups first, so the last tasks are short)."""
    groups: dict[int, list[SeriesSpec]] = {}
    for spec in todo:
        groups.setdefault(spec.store, []).append(spec)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].store))


def _run_dask(todo: list[SeriesSpec], settings: TaskSettings, scheduler, workers, progress, statuses: list[dict],
              timing: dict) -> tuple[str, int]:
    from distributed import as_completed

    t0 = time.perf_counter()
    with dask_client(scheduler, workers) as (client, description, n_workers):
        timing["cluster_start_seconds"] = round(time.perf_counter() - t0, 3)
        t1 = time.perf_counter()
        groups = by_store(todo)
        keys = [f"store-{g[0].store}-" + "-".join(s.key[:6] for s in g) for g in groups]
        futures = client.map(run_store, groups, settings=settings, key=keys, pure=False)
        by_key = {f.key: g for f, g in zip(futures, groups)}
        for future in as_completed(futures):
            group = by_key[future.key]
            try:
                done = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker died or the task could not run: report, go on
                done = [failed_status(s, exc) for s in group]
            for status in done:
                statuses.append(status)
                if progress:
                    progress(len(statuses), len(todo), sum(not s["ok"] for s in statuses), status)
            future.release()
        timing["tasks_wall_seconds"] = round(time.perf_counter() - t1, 3)
    return description, n_workers


def _run_here(todo: list[SeriesSpec], settings: TaskSettings, ds, progress, statuses: list[dict], timing: dict) -> None:
    t1 = time.perf_counter()
    for group in by_store(todo):
        for spec in group:
            status = run_series(spec, settings, ds=ds)
            statuses.append(status)
            if progress:
                progress(len(statuses), len(todo), sum(not s["ok"] for s in statuses), status)
    timing["tasks_wall_seconds"] = round(time.perf_counter() - t1, 3)


def _prune_stale(results_dir: Path, specs: list[SeriesSpec]) -> None:
    """Remove stored results of the planned series made with older inputs (other keys)."""
    if not results_dir.is_dir():
        return
    current = {series_folder(results_dir, s).name for s in specs}
    prefixes = {f"s{s.store}_p{s.product}_" for s in specs}
    for folder in results_dir.iterdir():
        name = folder.name
        if name not in current and any(name.startswith(p) and len(name) == len(p) + 16 for p in prefixes):
            shutil.rmtree(folder, ignore_errors=True)


def _gather(results_dir: Path, ok: list[SeriesSpec]) -> dict[str, pl.DataFrame]:
    frames = {name: [] for name in RESULT_FILES}
    for spec in ok:
        folder = series_folder(results_dir, spec)
        for name in RESULT_FILES:
            frames[name].append(pl.read_parquet(folder / f"{name}.parquet"))
    out = {}
    for name, parts in frames.items():
        out[name] = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    return out


def run_batch(data: str | Path | None = None, stores=None, products=None, models: str = DEFAULT_MODELS, date: dt.date | None = None,
              scheduler: str | None = None, workers: int | None = None, out: str | Path | None = None,
              safety_stock: str = DEFAULT_SAFETY, models_dir: str | Path | None = None, progress: BatchProgress | None = None,
              ds=None) -> dict:
    """Run the nightly batch; returns the summary written to ``<out>/summary.json``.

    ``workers=0`` runs every series in this process with the full table (no Dask): the reference path.
    Series whose key (their data, the shared tables, settings, close date) has stored results are skipped.
    """

    started, t0 = _now(), time.perf_counter()
    folder = Path(data) if data else data_dir()
    if ds is None:
        ds = load_dataset(folder)
    date = date or ds.end
    check_close_date(ds, date)
    names = parse_models(models)
    workers = (os.cpu_count() or 2) if workers is None else int(workers)
    specs = plan_series(ds, stores, products, {"models": names, "safety_stock": safety_stock}, date)
    out = Path(out) if out else default_batch_dir(folder)
    results_dir = out / "series"
    _prune_stale(results_dir, specs)
    todo = [s for s in specs if not has_results(results_dir, s)]
    settings = TaskSettings(models=names, date=date, safety_stock=safety_stock,
                            models_dir=str(models_dir or default_models_dir(ds)), results_dir=str(results_dir))
    statuses: list[dict] = []
    timing = {"cluster_start_seconds": 0.0, "tasks_wall_seconds": 0.0}
    description, n_workers = "in this process", 0
    setup = time.perf_counter() - t0
    if todo and (scheduler or workers > 0):
        partitions = write_partitions(ds, state_dir(folder))
        settings = TaskSettings(**{**settings.__dict__, "partitions": str(partitions)})
        setup = time.perf_counter() - t0
        description, n_workers = _run_dask(todo, settings, scheduler, workers, progress, statuses, timing)
    elif todo:
        _run_here(todo, settings, ds, progress, statuses, timing)
    compute = time.perf_counter() - t0 - setup
    failed = {(s["store"], s["product"]) for s in statuses if not s["ok"]}
    ok = [s for s in specs if (s.store, s.product) not in failed and has_results(results_dir, s)]
    frames = _gather(results_dir, ok)
    failures = pl.DataFrame([{k: s.get(k) for k in FAILURE_SCHEMA} for s in statuses if not s["ok"]], schema=FAILURE_SCHEMA)
    frames["order_sheets"] = frames.pop("order")
    frames["failures"] = failures
    for name, frame in frames.items():
        write_atomic(out / f"{name}.parquet", frame.write_parquet)
    seconds = time.perf_counter() - t0
    summary = {
        "started": started, "finished": _now(), "seconds": round(seconds, 3),
        "series_total": len(specs), "series_ok": len(ok), "series_failed": len(failed),
        "series_skipped": len(specs) - len(todo), "series_computed": len(statuses),
        "workers": n_workers, "scheduler": description, "date": str(date),
        "stores": sorted({s.store for s in specs}), "products": sorted({s.product for s in specs}),
        "models": list(names), "safety_stock": safety_stock, "data_fingerprint": ds.fingerprint, "data": str(folder),
        "out": str(out), "setup_seconds": round(setup, 3), "compute_seconds": round(compute, 3),
        **timing, "task_seconds": round(sum(s.get("seconds", 0.0) for s in statuses), 3),
        "task_cpu_seconds": round(sum(s.get("cpu_seconds", 0.0) for s in statuses), 3), "tasks": len({s.store for s in todo}),
        "failures": [s["error"] for s in statuses if not s["ok"]],
    }
    write_summary(out, summary)
    return summary
