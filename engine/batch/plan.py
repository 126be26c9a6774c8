"""Which series a batch runs: every (store, product) with sales rows, narrowed by --stores / --products.

Each planned series carries a key that changes when anything it depends on changes: its own sales
rows (and, when the pooled model is a candidate, every sales row of its store), the small shared tables (products, stores, visits, oil, holidays), the span of the data, the
batch settings and the close date. A re-run skips series whose key already has stored results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import polars as pl

from engine.data.dataset import Dataset
from engine.forecasting.backtest import FOLD_DAYS, MIN_TRAIN_DAYS, N_FOLDS

PLAN_VERSION = 2  # bump when the per-series work changes, so stored results are recomputed


@dataclass(frozen=True)
class SeriesSpec:
    store: int
    product: int
    key: str  # stored results are reused while this is unchanged

    @property
    def label(self) -> str:
        return f"store {self.store} product {self.product}"


def parse_ids(text: str | None, what: str) -> list[int] | None:
    """'all' / None / '' -> None (every id); '44,45' -> [44, 45]."""
    if text is None or str(text).strip().lower() in ("", "all"):
        return None
    if isinstance(text, (list, tuple)):
        return [int(v) for v in text]
    try:
        ids = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--{what} must be 'all' or ids separated by commas (e.g. 44,45), not {text!r}.") from None
    if not ids:
        raise ValueError(f"--{what} names no id; give 'all' or ids separated by commas (e.g. 44,45).")
    return ids


def check_close_date(ds: Dataset, date: dt.date) -> None:
    need = MIN_TRAIN_DAYS + N_FOLDS * FOLD_DAYS
    if date > ds.end:
        raise ValueError(f"the close date {date} is after the last day of data ({ds.end}); pick a date on or before it.")
    if (date - ds.start).days < need:
        raise ValueError(f"the close date {date} leaves too little history (data starts {ds.start}); pick a date at least {need} days after it.")


def shared_fingerprint(ds: Dataset) -> str:
    """Hash of everything but the sales rows: the small tables every series reads, and the data span."""
    h = hashlib.sha256(f"{ds.start}/{ds.end}".encode())
    for table in (ds.products, ds.stores, ds.visits, ds.oil_price, ds.holidays):
        h.update(str(table.schema).encode())
        h.update(table.hash_rows(seed=0).to_numpy().tobytes())
    return h.hexdigest()[:16]


def series_fingerprints(sales: pl.DataFrame) -> dict[tuple[int, int], str]:
    """(store, product) -> hash of that series' sales rows (sorted by date)."""
    hashed = (
        sales.sort("Store_ID", "Product_ID", "Date")
        .with_columns(pl.struct("Date", "Qty").hash(seed=0).alias("_h"))
        .group_by("Store_ID", "Product_ID", maintain_order=True)
        .agg(pl.col("_h"))
    )
    out = {}
    for store, product, hashes in hashed.iter_rows():
        out[(int(store), int(product))] = hashlib.sha256(pl.Series(hashes, dtype=pl.UInt64).to_numpy().tobytes()).hexdigest()[:16]
    return out


def store_fingerprints(sales: pl.DataFrame, stores: list[int]) -> dict[int, str]:
    """store -> hash of every sales row of that store (all its products)."""
    fps = series_fingerprints(sales.filter(pl.col("Store_ID").is_in(stores)))
    out = {}
    for store in stores:
        h = hashlib.sha256()
        for (s, p), fp in sorted(fps.items()):
            if s == store:
                h.update(f"{p}:{fp};".encode())
        out[store] = h.hexdigest()[:16]
    return out


def plan_series(ds: Dataset, stores=None, products=None, settings: dict | None = None, date: dt.date | None = None) -> list[SeriesSpec]:
    """Every (store, product) with sales rows among the chosen stores/products, with its skip key."""
    stores, products = parse_ids(stores, "stores"), parse_ids(products, "products")
    if stores is not None and (unknown := sorted(set(stores) - set(ds.store_ids))):
        raise ValueError(f"store(s) {', '.join(map(str, unknown))} have no sales rows; pick stores from the sales table (e.g. {ds.store_ids[0]}).")
    if products is not None and (unknown := sorted(set(products) - set(ds.product_ids))):
        raise ValueError(f"product(s) {', '.join(map(str, unknown))} have no sales rows; pick products from the sales table (e.g. {ds.product_ids[0]}).")
    sales = ds.sales
    if stores is not None:
        sales = sales.filter(pl.col("Store_ID").is_in(stores))
    if products is not None:
        sales = sales.filter(pl.col("Product_ID").is_in(products))
    shared = shared_fingerprint(ds)
    common = json.dumps({"v": PLAN_VERSION, "settings": settings or {}, "date": str(date), "shared": shared}, sort_keys=True, default=str)
    pooled = "pooled_lgbm" in tuple((settings or {}).get("models", ()))
    fingerprints = series_fingerprints(sales)
    store_fp = store_fingerprints(ds.sales, sorted({s for s, _ in fingerprints})) if pooled else {}
    specs = []
    for (store, product), fp in sorted(fingerprints.items()):
        # with the pooled model a series' forecast depends on every product of its store: its key does too
        key = hashlib.sha256(f"{common}/{store}/{product}/{fp}/{store_fp.get(store, '')}".encode()).hexdigest()[:16]
        specs.append(SeriesSpec(store, product, key))
    if not specs:
        raise ValueError("no (store, product) in the selection has sales rows; widen --stores or --products.")
    return specs
