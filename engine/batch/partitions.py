"""A partitioned Parquet copy of the validated data, so a batch task reads only its own series.

Written once per data fingerprint under ``<state>/batch_data/<fingerprint>/``:
``sales/Store_ID=<id>/part-0.parquet`` (one file per store) and the small tables
(products, stores, visits, oil_price, holidays) plus ``span.json`` (first and last day of the
whole data set). A task opens ``store_slice(folder, store)``: its store's file read once (every product:
the pooled model learns from all of them), with the small tables, as a ``Dataset`` with the whole data
set's span, so features and forecasts are the same numbers as on the full table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset

SMALL_TABLES = ("products", "stores", "visits", "oil_price", "holidays")  # Dataset fields
DONE = "_complete"


@dataclass(frozen=True)
class StoreSlice(Dataset):
    """A Dataset holding one series' sales rows but the span (start/end) of the whole data set."""

    span_start: dt.date | None = None
    span_end: dt.date | None = None

    @property
    def start(self) -> dt.date:
        return self.span_start

    @property
    def end(self) -> dt.date:
        return self.span_end


def partitions_root(state: Path) -> Path:
    return Path(state) / "batch_data"


def store_file(folder: Path, store: int) -> Path:
    return Path(folder) / "sales" / f"Store_ID={int(store)}" / "part-0.parquet"


def write_partitions(ds: Dataset, state: Path) -> Path:
    """The partition folder for this data fingerprint; written (atomically) only when missing.
    Copies made for older fingerprints are removed once the new one is complete."""
    root = partitions_root(state)
    final = root / (ds.fingerprint or "unversioned")
    if (final / DONE).exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{time.time_ns()}"
    try:
        for store, rows in ds.sales.partition_by("Store_ID", as_dict=True).items():
            path = store_file(tmp, store[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            rows.sort("Product_ID", "Date").write_parquet(path, statistics=True)
        for name in SMALL_TABLES:
            getattr(ds, name).write_parquet(tmp / f"{name}.parquet")
        (tmp / "span.json").write_text(json.dumps({"start": str(ds.start), "end": str(ds.end), "fingerprint": ds.fingerprint,
                                                   "folder": str(ds.folder)}))
        (tmp / DONE).write_text("ok")
        if final.exists():  # an incomplete copy left by a crash
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / DONE).exists():  # a concurrent batch wrote it first: fine
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in root.iterdir():
        if old != final and old.is_dir() and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    return final


def store_slice(folder: str | Path, store: int) -> StoreSlice:
    """The store's rows (one read of its partition) plus the small tables."""
    folder = Path(folder)
    path = store_file(folder, store)
    if not path.exists():
        raise ValueError(f"store {store} has no partition file {path}; run the batch again to rewrite the partitioned copy.")
    try:
        sales = pl.read_parquet(path)
        small = {name: pl.read_parquet(folder / f"{name}.parquet") for name in SMALL_TABLES}
        span = json.loads((folder / "span.json").read_text())
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"the partitioned copy of store {store} in {folder} cannot be read ({first[:160]}); "
                         f"delete {folder} and run the batch again.") from None
    return StoreSlice(sales=sales, **small, folder=span["folder"], fingerprint=span["fingerprint"],
                      span_start=dt.date.fromisoformat(span["start"]), span_end=dt.date.fromisoformat(span["end"]))
