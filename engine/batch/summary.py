"""The last batch's summary and outputs, read without importing Dask (Home uses this).

``<out>/summary.json``: started, finished, seconds, series_total, series_ok, series_failed,
series_skipped, workers, scheduler, date (+ stores, products, models, data_fingerprint, ...).
``<out>/forecasts.parquet``, ``metrics.parquet``, ``order_sheets.parquet``, ``failures.parquet``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.data.storage import state_dir, state_location

SUMMARY = "summary.json"
OUTPUTS = ("forecasts", "metrics", "order_sheets", "failures")


def default_batch_dir(data: str | Path | None = None, create: bool = True) -> Path:
    """``<state>/batch`` for the data folder (``create=False``: only the path, nothing made on disk)."""
    if not create:
        return state_location(Path(data) if data else None).path / "batch"
    return state_dir(Path(data) if data else None) / "batch"


def write_atomic(path: Path, write) -> None:
    """Write through a temporary file renamed into place (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{time.time_ns()}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_summary(out: Path, summary: dict) -> None:
    write_atomic(Path(out) / SUMMARY, lambda p: p.write_text(json.dumps(summary, indent=2, default=str)))


def read_summary(out: str | Path | None = None, data: str | Path | None = None) -> dict | None:
    """The last batch's summary, or None when no batch has finished (or the file cannot be read)."""
    path = Path(out) if out else default_batch_dir(data, create=False)
    try:
        return json.loads((path / SUMMARY).read_text())
    except (OSError, ValueError):
        return None


def last_batch_line(summary: dict | None) -> str | None:
    """'Last nightly batch: <time>, <ok>/<total> series, <failed> failed' (None without a summary)."""
    if not summary:
        return None
    when = str(summary.get("finished", "?")).replace("T", " ")[:16]
    return (f"Last nightly batch: {when} UTC, {summary.get('series_ok', 0)}/{summary.get('series_total', 0)} series, "
            f"{summary.get('series_failed', 0)} failed")


def read_output(name: str, out: str | Path | None = None, data: str | Path | None = None):
    """One of the batch's Parquet outputs as a polars DataFrame (None when missing)."""
    import polars as pl

    if name not in OUTPUTS:
        raise ValueError(f"unknown batch output {name!r}; choose from {', '.join(OUTPUTS)}.")
    path = (Path(out) if out else default_batch_dir(data, create=False)) / f"{name}.parquet"
    return pl.read_parquet(path) if path.exists() else None


@dataclass
class LastBatch:
    """What the Nightly batch page shows: the summary and the outputs of the last run."""

    summary: dict
    order_sheets: object  # pl.DataFrame(OrderSheet.to_frame() columns + store, date)
    failures: object  # pl.DataFrame store, product, error, detail
    metrics: object  # pl.DataFrame

    @property
    def coverage(self) -> str:
        return f"{self.summary.get('series_ok', 0)}/{self.summary.get('series_total', 0)}"

    def sheet(self, store: int | None = None):
        """The order lines of one store (all stores when None), by store and product."""
        import polars as pl

        frame = self.order_sheets
        if store is not None:
            frame = frame.filter(pl.col("store") == int(store))
        return frame.sort("store", "product")


def last_batch(data: str | Path | None = None, out: str | Path | None = None) -> LastBatch | None:
    """The last batch's summary and outputs, or None when no batch has finished."""
    import polars as pl

    summary = read_summary(out, data)
    if summary is None:
        return None
    folder = Path(out) if out else default_batch_dir(data, create=False)
    frames = {}
    for name in ("order_sheets", "failures", "metrics"):
        frame = read_output(name, folder)
        frames[name] = frame if frame is not None else pl.DataFrame()
    if "store" not in frames["order_sheets"].columns:
        frames["order_sheets"] = pl.DataFrame(schema={"store": pl.Int64, "product": pl.Int64, "date": pl.Date})
    return LastBatch(summary, **frames)


def batch_order_sheet(store: int, date, data: str | Path | None = None, out: str | Path | None = None):
    """The last nightly batch's order lines for one store and close (the Orders page shows them beside its own
    sheet): (the 'Last nightly batch: …' line, lines sorted by product), or None when that batch has none."""
    import polars as pl

    last = last_batch(data, out)
    if last is None or last.order_sheets.height == 0:
        return None
    lines = last.sheet(store).filter(pl.col("date").cast(pl.String) == str(date))
    return (last_batch_line(last.summary), lines) if lines.height else None
