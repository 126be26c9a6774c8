"""One (store, product) daily series with its feature frames, cut at a day to forbid look-ahead.

``Series.before(day)`` keeps only rows dated before ``day`` and blanks every target that falls on
or after it, so a model fitted on it cannot see anything from ``day`` on. Feature frames come from
``engine.data.features.build_features`` (one per horizon h, built with ``lead_time=h`` so the target-day
calendar columns and the target describe day t + h).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import polars as pl

from engine.data.dataset import Dataset
from engine.data.features import FEATURE_COLUMNS, build_features


class Series:
    def __init__(self, ds: Dataset, store: int, product: int, *, _frames: dict | None = None, _cutoff: dt.date | None = None):
        self.ds = ds
        self.store = int(store)
        self.product = int(product)
        self.lead_time = ds.lead_time(self.product)
        self._frames = _frames if _frames is not None else {}
        self.cutoff = _cutoff
        full = self._full(self.lead_time)
        if full.height == 0 or not full["Qty"].sum() > 0:
            raise ValueError(f"store {store} has no sales of product {product}; pick a store and product that appear in the sales table.")
        if _cutoff is not None:
            full = full.filter(pl.col("Date") < _cutoff)
        self.start: dt.date = ds.start
        self.dates = full["Date"].to_numpy()
        self.qty = full["Qty"].to_numpy().astype(float)

    def _full(self, horizon: int) -> pl.DataFrame:
        if horizon not in self._frames:
            self._frames[horizon] = build_features(self.ds, self.store, self.product, lead_time=horizon).sort("Date")
        return self._frames[horizon]

    @property
    def end(self) -> dt.date:
        """Last day with an observation in this (possibly cut) series."""
        return self.start + dt.timedelta(days=len(self.qty) - 1)

    def before(self, day: dt.date) -> Series:
        """The series as known before ``day``: rows dated >= day are gone, targets on/after day are null."""
        cut = day if self.cutoff is None else min(day, self.cutoff)
        return Series(self.ds, self.store, self.product, _frames=self._frames, _cutoff=cut)

    def frame(self, horizon: int) -> pl.DataFrame:
        """build_features rows (target = Qty at t + horizon), cut at the series' cutoff."""
        f = self._full(horizon)
        if self.cutoff is not None:
            f = f.filter(pl.col("Date") < self.cutoff).with_columns(
                pl.when(pl.col("target_date") < self.cutoff).then(pl.col("target")).otherwise(None).alias("target")
            )
        return f

    def index(self, day: dt.date) -> int:
        return (day - self.start).days

    def day(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=int(index))

    def fingerprint(self) -> str:
        """Content hash of what a model fitted on this series sees (sales and features)."""
        h = hashlib.sha256()
        h.update(f"{self.store}/{self.product}/{self.lead_time}/{self.start}/{len(self.qty)}".encode())
        h.update(np.ascontiguousarray(self.qty).tobytes())
        feats = self.frame(self.lead_time).select(FEATURE_COLUMNS).hash_rows(seed=0).to_numpy()
        h.update(feats.tobytes())
        return h.hexdigest()[:16]


def same_weekday_lags(qty: np.ndarray, origins: np.ndarray, horizon: int, k: int) -> np.ndarray:
    """(n, k) array: Qty on the k most recent days with the target's weekday known at each origin.

    The target is origin + horizon; the j-th lag is target - 7 * (ceil(horizon / 7) + j), always <= origin.
    Days before the data are nan.
    """
    first = -(-horizon // 7)
    idx = origins[:, None] + horizon - 7 * (first + np.arange(k))[None, :]
    out = np.full(idx.shape, np.nan)
    ok = (idx >= 0) & (idx < len(qty))
    out[ok] = qty[idx[ok]]
    return out


def past_values(qty: np.ndarray, origins: np.ndarray, lags: int) -> np.ndarray:
    """(n, lags) array: Qty at origin, origin - 1, ..., origin - lags + 1 (nan before the data)."""
    idx = origins[:, None] - np.arange(lags)[None, :]
    out = np.full(idx.shape, np.nan)
    ok = (idx >= 0) & (idx < len(qty))
    out[ok] = qty[idx[ok]]
    return out
