"""Quantile forecasts of the lead window: the contract between forecasting and ordering.

A ``LeadWindowQuantiles`` is what the order sheet needs from forecasting for one (store, product)
at one close d: the point forecasts of d+1 .. d+L made at 22:00 of d by a model trained up to d,
and the calibration errors (actual − forecast) of that model's recent out-of-sample forecasts, per
horizon and for the lead-window total. Quantiles are split-conformal: forecast + the empirical
quantile of the calibration errors, so any level in (0, 1) can be asked for (the service level, or
the newsvendor critical ratio). Errors may be kept per order-day weekday where that helps; the
weekday of the close then picks its own errors when it has enough of them.

The errors come from forecasts whose target days the model had not seen (forward-chaining), so
the coverage they promise is an honest out-of-sample one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
MIN_WEEKDAY_ERRORS = 40  # fewer errors than this for the close's weekday: use all weekdays (12 gave P90 = P99 = the max error)


def conformal_quantile(errors: np.ndarray, level: float) -> float:
    """The ``level`` quantile of calibration errors with the finite-sample correction of split conformal
    prediction: the ceil((n + 1) * level)-th smallest error (the largest one when that exceeds n)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"the quantile level {level} is outside (0, 1); give e.g. 0.9 for the 90 % quantile.")
    e = np.sort(np.asarray(errors, dtype=float)[np.isfinite(errors)])
    if e.size == 0:
        raise ValueError("there are no calibration errors yet: the model needs recent out-of-sample forecasts first.")
    k = int(np.ceil((e.size + 1) * level)) - 1
    return float(e[min(max(k, 0), e.size - 1)])


@dataclass
class LeadWindowQuantiles:
    store: int
    product: int
    origin: dt.date  # the close d; the forecasts are for d+1 .. d+L, made at 22:00 of d
    lead_time: int
    model: str
    point: np.ndarray  # (L,) point forecasts of d+1 .. d+L
    errors: np.ndarray  # (n, L) calibration errors actual - forecast per horizon (rows: recent order days)
    error_weekdays: np.ndarray  # (n,) weekday (0 = Monday) of each calibration order day
    explanation: list[dict] = field(default_factory=list)  # per horizon: {"baseline": .., contributions.., "forecast": ..}

    @property
    def point_total(self) -> float:
        return float(np.sum(self.point))

    def _rows(self) -> np.ndarray:
        ok = np.isfinite(self.errors).all(axis=1)
        same = ok & (self.error_weekdays == self.origin.weekday())
        return same if same.sum() >= MIN_WEEKDAY_ERRORS else ok

    def total_errors(self) -> np.ndarray:
        """Calibration errors of the lead-window total (the rows that apply to this close's weekday)."""
        return self.errors[self._rows()].sum(axis=1)

    def total_quantile(self, level: float) -> float:
        """The ``level`` quantile of the lead-window total demand (never below 0)."""
        return max(0.0, self.point_total + conformal_quantile(self.total_errors(), level))

    def day_quantiles(self, level: float) -> np.ndarray:
        """(L,) the ``level`` quantile of each day's demand d+1 .. d+L (never below 0)."""
        rows = self.errors[self._rows()]
        return np.array([max(0.0, float(self.point[h]) + conformal_quantile(rows[:, h], level)) for h in range(self.lead_time)])

    def to_dict(self, levels=LEVELS) -> dict:
        return {
            "store": self.store, "product": self.product, "origin": str(self.origin), "lead_time": self.lead_time,
            "model": self.model,
            "days": [str(self.origin + dt.timedelta(days=h + 1)) for h in range(self.lead_time)],
            "point": [float(x) for x in self.point],
            "day_quantiles": {f"P{round(q * 100)}": [float(x) for x in self.day_quantiles(q)] for q in levels},
            "total_quantiles": {f"P{round(q * 100)}": self.total_quantile(q) for q in levels},
            "calibration_errors": int(self._rows().sum()),
            "explanation": self.explanation,
        }
