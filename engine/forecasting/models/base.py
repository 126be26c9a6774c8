"""The one interface every forecaster follows.

``fit(series, horizons)`` learns from ``series`` (already cut before the first forecast day, see
``Series.before``); ``predict(series, origins)`` returns an array (len(origins), len(horizons)):
the forecast made at 22:00 of each origin day t for day t + h, using rows dated <= t only.
Objects are picklable (``engine.forecasting.store`` persists them).
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

import numpy as np

from engine.forecasting.series import Series

Progress = Callable[[str, float, str], None]  # (model name, fraction done 0..1, message)


class Forecaster:
    name = "base"
    cheap = True  # seconds per series: allowed in model="auto"
    param_grid: tuple[dict, ...] = ({},)  # hyper-parameters chosen by forward-chaining CV

    def __init__(self, **params):
        self.params = dict(params)
        self.horizons: tuple[int, ...] = ()

    def fit(self, series: Series, horizons: tuple[int, ...], progress: Progress | None = None) -> Forecaster:
        self.horizons = tuple(int(h) for h in horizons)
        return self

    def predict(self, series: Series, origins: list[dt.date]) -> np.ndarray:
        raise NotImplementedError

    def _origin_index(self, series: Series, origins) -> np.ndarray:
        idx = np.array([series.index(o) for o in origins], dtype=int)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(series.qty)):
            raise ValueError(f"a forecast origin lies outside the data ({series.start} to {series.end}); pick days inside it.")
        return idx

    def describe(self) -> dict:
        return {"name": self.name, "params": self.params}
