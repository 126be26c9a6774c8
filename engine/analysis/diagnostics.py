"""Diagnostics of a data series for the Explore page: its decomposition residual, raw sales or daily changes.

The tests themselves live in ``engine.stats`` (shared with forecasting and inventory).
"""

from __future__ import annotations

from engine.analysis.decomposition import decompose
from engine.analysis.series import daily_series
from engine.stats import Diagnostics, residual_diagnostics

SERIES_KINDS = {
    "residual": "decomposition residuals",
    "sales": "sales",
    "changes": "day-to-day changes of sales",
}


def series_diagnostics(ds, store: int, product: int | None = None, start=None, end=None, of: str = "residual",
                       method: str = "stl", period: int | str = 7, lags: int = 28, decomposition=None) -> Diagnostics:
    """Diagnostics of a data series: its decomposition residual (default), the raw sales, or their daily changes.

    ``decomposition``: an already computed ``decompose(...)`` result of the same series to reuse (the page's cache).
    """
    if of not in SERIES_KINDS:
        raise ValueError(f"unknown series {of!r}; use one of {', '.join(SERIES_KINDS)}.")
    if of == "residual":
        dec = decomposition or decompose(ds, store, product, start, end, period=period, method=method)
        values = dec.frame["residual"]
    else:
        values = daily_series(ds, store, product, start, end)["Qty"]
        if of == "changes":
            values = values.diff()
    return residual_diagnostics(values, lags=lags, what=SERIES_KINDS[of] if of != "residual" else "residuals")
