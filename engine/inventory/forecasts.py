"""Lead-window forecasts and demand for a simulated window, without look-ahead.

``lead_window(ds, store, product, start, end)`` makes ONE call
``engine.forecasting.lead_window_forecasts(ds, store, product, v0, end)`` with
v0 = start - (L + 1) - VALIDATION_DAYS, so every model is trained only on data before v0 and the
forecast made at 22:00 of day t uses observations up to t only. The order days split into:

- validation: v0 .. w0 (w0 = start - L - 1). Every target day of these forecasts lies before
  ``start``; their lead-window errors (actual demand of t+1..t+L minus its forecast) are what the
  service-level safety stock is fitted on (forward-chaining: the model never saw these days either).
- warm-up: the evening of w0 sets the initial state from forecasts (closing = safety stock, the
  next L deliveries = the forecasts made at w0), then days w0+1 .. start-1 run under the policy.
- the evaluated window: start .. end.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import polars as pl
from engine.forecasting import lead_window_forecasts

VALIDATION_DAYS = 112  # 16 weeks of order days before the warm-up


class FingerprintCache:
    """A small LRU cache whose keys start with the data's content fingerprint (``ds.fingerprint``), never with
    ``id(ds)``: a freed Dataset's id can be reused by another one and would return its stale result. A dataset
    without a fingerprint (built in memory) is not cached. Thread-safe (the page's sessions run in threads)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(ds, *rest) -> tuple | None:
        fingerprint = getattr(ds, "fingerprint", "")
        return (fingerprint, *rest) if fingerprint else None

    def get(self, key):
        if key is None:
            return None
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value):
        if key is not None:
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = FingerprintCache(256)


@dataclass
class LeadWindow:
    store: int
    product: int
    lead_time: int
    model: str
    dates: list  # order days v0 .. end
    demand: np.ndarray  # actual demand of each day (index 0: nan, before the first order day)
    forecasts: np.ndarray  # (days, L): forecast for t+h made at t
    actuals: np.ndarray  # (days, L): actual demand of t+h (nan past the data)
    first: int  # index of the first evaluated day (the window start)

    @property
    def warmup(self) -> int:
        """Index of the warm-up evening w0 = start - L - 1 (also the last validation order day)."""
        return self.first - self.lead_time - 1

    @property
    def lead_forecast(self) -> np.ndarray:
        """Forecast of the demand on t+1 .. t+L made at each order day t."""
        return self.forecasts.sum(axis=1)

    @property
    def weekdays(self) -> np.ndarray:
        return np.array([d.weekday() for d in self.dates])

    def errors(self, last: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(errors actual - forecast of the L-day lead window, the forecasts, order-day weekdays) for the
        validation order days 0 .. ``last`` (default: the warm-up evening): all their targets are before the window."""
        last = self.warmup if last is None else last
        a = self.actuals[:last + 1]
        ok = ~np.isnan(a).any(axis=1)
        f = self.lead_forecast[:last + 1]
        return (a.sum(axis=1) - f)[ok], f[ok], self.weekdays[:last + 1][ok]


def _from_frame(frame: pl.DataFrame, store: int, product: int, lead_time: int, first_day: dt.date) -> LeadWindow:
    frame = frame.sort("order_date", "horizon")
    dates = frame.filter(pl.col("horizon") == 1)["order_date"].to_list()
    n, L = len(dates), lead_time
    forecasts = frame["forecast"].to_numpy().reshape(n, L)
    actuals = frame["actual"].fill_null(np.nan).to_numpy().astype(float).reshape(n, L)
    demand = np.full(n, np.nan)
    demand[1:] = actuals[:-1, 0]  # demand of day t = actual of (origin t-1, horizon 1)
    return LeadWindow(int(store), int(product), L, str(frame["model"][0]), dates, demand, forecasts, actuals, dates.index(first_day))


def store_view(ds, store: int):
    """The dataset with only this store's sales rows (features of one store's series do not depend on the
    other stores' sales; customer counts come from the orders table). Building a series from it is
    about 3x faster. Falls back to ``ds`` when the store's sales do not span the same days."""
    import dataclasses

    key = FingerprintCache.key(ds, "view", int(store))
    if (hit := _CACHE.get(key)) is not None:
        return hit
    view = dataclasses.replace(ds, sales=ds.sales.filter(pl.col("Store_ID") == int(store)))
    view = view if view.sales.height and (view.start, view.end) == (ds.start, ds.end) else ds
    return _CACHE.put(key, view)


def lead_window(ds, store: int, product: int, start: dt.date, end: dt.date, model: str = "auto", models_dir=None) -> LeadWindow:
    """Validation, warm-up and window inputs for simulating [start, end] (see the module docstring)."""
    if end < start:
        raise ValueError(f"the window ends ({end}) before it starts ({start}); give an end on or after the start.")
    if end > ds.end:
        raise ValueError(f"the window ends on {end}, after the last day of data ({ds.end}); pick an end on or before it.")
    if int(product) not in ds.products["Product_ID"].to_list():
        raise ValueError(f"product {product} is not in the products table; pick one of {', '.join(map(str, ds.product_ids))}.")
    L = ds.lead_time(int(product))
    v0 = start - dt.timedelta(days=L + 1 + VALIDATION_DAYS)
    key = FingerprintCache.key(ds, "lead_window", str(ds.folder), int(store), int(product), start, end, model, str(models_dir))
    if (hit := _CACHE.get(key)) is not None:
        return hit
    try:
        frame = lead_window_forecasts(store_view(ds, store), store, product, v0, end, model=model, models_dir=models_dir)
    except ValueError as exc:
        if "too little history" in str(exc):
            raise ValueError(f"the window starting {start} leaves too little history for a forecast plus {VALIDATION_DAYS} validation "
                             f"days (data starts {ds.start}); pick a start about a year after the first day of data.") from None
        raise
    return _CACHE.put(key, _from_frame(frame, store, product, L, start))


def clear_cache() -> None:
    _CACHE.clear()
