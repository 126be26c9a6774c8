"""The work of one store, run as one Dask task (or in-process): per product fit or reload, forecast, order.

``run_store`` reads the store's partition once and runs its series one after the other in the same
process, so what the series share is built once: the store's data, the feature frames of the
calendar, oil and customers, and the pooled model (``pooled_lgbm``: one booster set per store and
cut-off, fitted for the first product and reused by the others). ``run_series`` never raises: it
returns a status dict, with ``error`` as one sentence when the series failed, so a failing series
fails alone and is retried by the next run. Results go to ``<results>/<series folder>/`` (forecasts,
metrics and order Parquet files), written to a temporary folder and renamed into place, so a crash
never leaves half a result. Each status carries the series' wall and CPU seconds.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from engine.batch.partitions import store_slice
from engine.data import memo
from engine.inventory.forecasts import clear_cache
from engine.ordering.close_forecast import close_quantiles, train_for_close
from engine.ordering.sheet import default_book, order_sheet
from engine.ordering.stockbook import censored_days

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
               "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "POLARS_MAX_THREADS")
RESULT_FILES = ("forecasts", "metrics", "order")


@dataclass(frozen=True)
class TaskSettings:
    models: tuple[str, ...]
    date: dt.date  # the close: train on every day up to it, forecast date+1..date+LeadTime from it
    safety_stock: str
    models_dir: str
    results_dir: str
    partitions: str | None = None  # partition folder (workers); None = use the Dataset given in-process


def one_thread_env() -> dict[str, str]:
    """Environment for a worker process: one thread for BLAS, OpenMP, TensorFlow and polars."""
    return {v: "1" for v in THREAD_VARS}


def limit_threads() -> dict[str, int]:
    """Best effort inside an already running process (a worker of a remote cluster); returns the thread counts
    the task will really use ({"polars": .., "blas": ..}), so a status shows when a pool ignored the setting
    (polars reads POLARS_MAX_THREADS only when it is first imported: a LocalCluster worker gets it before)."""
    import polars as pl

    for var, value in one_thread_env().items():
        os.environ.setdefault(var, value)
    blas = 1
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(1)
        blas = max((pool.get("num_threads", 1) for pool in threadpool_info()), default=1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    return {"polars": int(pl.thread_pool_size()), "blas": int(blas)}


def series_folder(results_dir: str | Path, spec) -> Path:
    return Path(results_dir) / f"s{spec.store}_p{spec.product}_{spec.key}"


def has_results(results_dir: str | Path, spec) -> bool:
    folder = series_folder(results_dir, spec)
    return all((folder / f"{name}.parquet").exists() for name in RESULT_FILES)


def error_sentence(spec, exc: BaseException) -> str:
    """One sentence: which series, what went wrong (the engine's own sentence when it has one)."""
    text = (exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    if not isinstance(exc, ValueError):
        text = f"{type(exc).__name__}: {text}"
    text = text[:300].rstrip(".")
    return f"{spec.label} failed: {text}."


def failed_status(spec, exc: BaseException, detail: str | None = None) -> dict:
    """The status of a series that did not run: its sentence, no time spent."""
    return {"store": spec.store, "product": spec.product, "key": spec.key, "ok": False, "error": error_sentence(spec, exc),
            "detail": (detail or repr(exc))[:1000], "seconds": 0.0, "cpu_seconds": 0.0, "models_reused": None}


def _metrics_frame(spec, trained: dict, chosen: str):
    import polars as pl

    rows = []
    for name, t in trained.items():
        rows.append({"store": spec.store, "product": spec.product, "model": name, "chosen": name == chosen,
                     **{f"validation_{k}": (float(v) if v is not None else None) for k, v in t.cv.metrics.items()},
                     "reused": bool(t.reused), "fit_seconds": float(t.fit_seconds), "cv_seconds": float(t.cv_seconds)})
    return pl.DataFrame(rows)


def _forecast_frame(spec, quantiles, date: dt.date, ds):
    """The lead window at the close: horizons 1..LeadTime from origin ``date`` (the order sheet's own forecast)."""
    import polars as pl

    days = [date + dt.timedelta(days=j + 1) for j in range(len(quantiles.point))]
    sold = ds.sales.filter((pl.col("Store_ID") == spec.store) & (pl.col("Product_ID") == spec.product) & pl.col("Date").is_in(days))
    actual = dict(zip(sold["Date"].to_list(), sold["Qty"].cast(pl.Float64).to_list()))
    rows = [(spec.store, spec.product, date, j + 1, day, float(value), (actual.get(day, 0.0) if day <= ds.end else None), quantiles.model)
            for j, (day, value) in enumerate(zip(days, quantiles.point))]
    return pl.DataFrame(rows, schema={"store": pl.Int32, "product": pl.Int32, "order_date": pl.Date, "horizon": pl.Int32,
                                      "target_date": pl.Date, "forecast": pl.Float64, "actual": pl.Float64, "model": pl.String},
                        orient="row")


def _order_frame(ds, spec, settings: TaskSettings, quantiles, book):
    """The order line of this series from the ordering engine (``order_sheet`` fed with the quantiles of the models
    this task just trained), as a one-row frame with the sheet's store and date added."""
    import polars as pl

    sheet = order_sheet(ds, spec.store, settings.date, products=[spec.product], safety_stock=settings.safety_stock,
                        forecasts={spec.product: quantiles}, book=book if book is not None else False)
    return sheet.to_frame().with_columns(pl.lit(sheet.store, dtype=pl.Int64).alias("store"), pl.lit(sheet.date, dtype=pl.Date).alias("date"))


def compute_series(spec, settings: TaskSettings, ds=None) -> dict:
    """Fit or reload the models up to the close, forecast the lead window, recommend the order.
    Returns the frames {forecasts, metrics, order}; raises on failure."""

    if ds is None:
        ds = store_slice(settings.partitions, spec.store)
    book = default_book(ds)
    censored = censored_days(ds, book, spec.store, spec.product)
    # trained once, up to the close: the same models give the forecasts and the order (no second training)
    chosen, trained = train_for_close(ds, spec.store, spec.product, settings.date, settings.models, settings.models_dir, censored)
    quantiles = close_quantiles(ds, spec.store, spec.product, settings.date, fitted=chosen, censored=censored)
    return {
        "metrics": _metrics_frame(spec, trained, chosen.name),
        "forecasts": _forecast_frame(spec, quantiles, settings.date, ds),
        "order": _order_frame(ds, spec, settings, quantiles, book),
    }


def _save(folder: Path, frames: dict) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    try:
        for name, frame in frames.items():
            frame.write_parquet(tmp / f"{name}.parquet")
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def run_series(spec, settings: TaskSettings, ds=None) -> dict:
    """One series end to end; never raises. Returns store, product, key, ok, error, seconds, cpu_seconds, models_reused."""
    threads = limit_threads()
    t0, c0 = time.perf_counter(), time.process_time()
    status = {"store": spec.store, "product": spec.product, "key": spec.key, "ok": False, "error": None,
              "seconds": 0.0, "cpu_seconds": 0.0, "models_reused": None, "worker": os.getpid(), "threads": threads}
    try:
        frames = compute_series(spec, settings, ds)
        _save(series_folder(settings.results_dir, spec), frames)
        status["ok"] = True
        status["models_reused"] = bool(frames["metrics"]["reused"].all())
    except Exception as exc:  # noqa: BLE001 - a failing series is reported, never stops the others
        status["error"] = error_sentence(spec, exc)
        status["detail"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()[-1000:]
    status["seconds"] = time.perf_counter() - t0
    status["cpu_seconds"] = time.process_time() - c0
    return status


def run_store(specs: list, settings: TaskSettings, ds=None) -> list[dict]:
    """Every planned series of one store in this process (the store's partition read once); never raises.

    Each status keeps its own seconds; the read of the partition is charged to the first series. A worker
    drops the store's caches at the end, so its memory does not grow with the stores it ran."""
    limit_threads()
    t0, c0 = time.perf_counter(), time.process_time()
    own = ds is None  # a worker's task: its caches are its own, dropped at the end
    try:
        if ds is None and settings.partitions:
            try:
                ds = store_slice(settings.partitions, specs[0].store)
            except Exception as exc:  # noqa: BLE001 - every series of the store fails with the same sentence
                return [{**failed_status(s, exc, str(exc)), "worker": os.getpid()} for s in specs]
        read, read_cpu = time.perf_counter() - t0, time.process_time() - c0
        statuses = [run_series(spec, settings, ds) for spec in specs]
        statuses[0]["seconds"] += read
        statuses[0]["cpu_seconds"] += read_cpu
        return statuses
    finally:
        if own:
            clear_cache()
            memo.clear()
