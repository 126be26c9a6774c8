"""Forecast accuracy metrics, safe on zero days.

WAPE = sum|e| / sum|y|; sMAPE = mean(2|e| / (|y| + |f|)) with 0/0 counted as 0; MASE = MAE /
in-sample MAE of the seasonal-naive (same weekday, lag 7) forecast on the training data;
MAPE skips days with actual 0 (the pilot report's 9e17 came from dividing by them).
"""

from __future__ import annotations

import math

import numpy as np

METRIC_NAMES = ("rmse", "mae", "wape", "smape", "mase", "r2")


def _arrays(actual, forecast) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    if y.shape != f.shape:
        raise ValueError(f"actual has {y.size} values but forecast has {f.size}; give one forecast per actual.")
    keep = ~(np.isnan(y) | np.isnan(f))
    return y[keep], f[keep]


def rmse(actual, forecast) -> float:
    y, f = _arrays(actual, forecast)
    return float(np.sqrt(np.mean((y - f) ** 2))) if y.size else math.nan


def mae(actual, forecast) -> float:
    y, f = _arrays(actual, forecast)
    return float(np.mean(np.abs(y - f))) if y.size else math.nan


def wape(actual, forecast) -> float:
    """Weighted absolute percentage error as a fraction (0.1 = 10%)."""
    y, f = _arrays(actual, forecast)
    total = np.sum(np.abs(y))
    return float(np.sum(np.abs(y - f)) / total) if total > 0 else math.nan


def smape(actual, forecast) -> float:
    """Symmetric MAPE as a fraction in [0, 2]; a day with actual = forecast = 0 counts as 0."""
    y, f = _arrays(actual, forecast)
    if not y.size:
        return math.nan
    denom = np.abs(y) + np.abs(f)
    terms = np.divide(2 * np.abs(y - f), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(terms))


def mape(actual, forecast) -> float:
    """MAPE as a fraction over the days with a non-zero actual only (nan when there are none)."""
    y, f = _arrays(actual, forecast)
    nz = y != 0
    return float(np.mean(np.abs((y[nz] - f[nz]) / y[nz]))) if nz.any() else math.nan


def seasonal_naive_scale(history, season: int = 7) -> float:
    """In-sample MAE of the forecast y[t] = y[t - season] over the training history."""
    h = np.asarray(history, dtype=float)
    h = h[~np.isnan(h)]
    if h.size <= season:
        return math.nan
    return float(np.mean(np.abs(h[season:] - h[:-season])))


def mase(actual, forecast, scale: float) -> float:
    m = mae(actual, forecast)
    return float(m / scale) if scale and scale > 0 and not math.isnan(scale) else math.nan


def r2(actual, forecast) -> float:
    y, f = _arrays(actual, forecast)
    if y.size < 2:
        return math.nan
    ss_tot = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - f) ** 2) / ss_tot) if ss_tot > 0 else math.nan


def all_metrics(actual, forecast, scale: float) -> dict[str, float]:
    """rmse, mae, wape, smape, mase, r2 (the JSON's metric names)."""
    return {
        "rmse": rmse(actual, forecast), "mae": mae(actual, forecast), "wape": wape(actual, forecast),
        "smape": smape(actual, forecast), "mase": mase(actual, forecast, scale), "r2": r2(actual, forecast),
    }
