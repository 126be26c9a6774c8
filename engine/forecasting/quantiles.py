"""Quantile forecasts of the lead window: the contract between forecasting and ordering.

A ``LeadWindowQuantiles`` is what the order sheet needs from forecasting for one (store, product)
at one close d: the point forecasts of d+1 .. d+L made at 22:00 of d by a model trained up to d,
and the calibration errors (actual − forecast) of that model's recent out-of-sample forecasts, per
horizon and for the lead-window total. Quantiles are split-conformal: forecast + the empirical
quantile of the calibration errors, so any level in (0, 1) can be asked for (the service level, or
the newsvendor critical ratio). Errors may be kept per order-day weekday where that helps; the
weekday of the close then picks its own errors when it has enough of them.

Peaks are a class of their own (Mondrian conformal prediction): every calibration origin and the close
carry a season index, last year's sales of the same lead window over last year's level
(``engine.forecasting.lead_window.season_index``, known at the close). A close in a normal week
(index < ``PEAK_SEASON``) is sized on the errors of normal weeks only, so last Christmas's ramp does not
inflate July's safety stock; a close in a peak week keeps every error, peaks included. On the real
store-44 months 2016-07..12 this took Frozen from 2.72x to 2.25x the perfect-foresight stock with the
overall fill rate unchanged (99.42 -> 99.41 %), and on 2016-01..06 from 5.07x to 3.44x (docs/benchmarks.md).

The errors come from forecasts whose target days the model had not seen (forward-chaining), so
the coverage they promise is an honest out-of-sample one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
MIN_WEEKDAY_ERRORS = 40  # fewer errors than this for the close's weekday: use all weekdays (12 gave P90 = P99 = the max error)
PEAK_SEASON = 2.0  # a lead window whose days sold at least twice their level last year is a peak (tried 1.3, 1.5, 2.0, 3.0)
MIN_SEASON_ERRORS = 20  # fewer normal-week errors than this: use every error


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
    error_seasons: np.ndarray | None = None  # (n,) season index of each calibration origin (None: no season split)
    season: float | None = None  # season index of the close (last year's lead-window sales / last year's level)

    @property
    def peak(self) -> bool:
        """The close's lead window is a peak (last year these days sold at least PEAK_SEASON times their level)."""
        return self.season is not None and self.season >= PEAK_SEASON

    def normal_weeks_only(self) -> bool:
        """A normal-week close sized on normal-week errors (False: every error, e.g. a peak close or too few)."""
        if self.error_seasons is None or self.season is None or self.peak:
            return False
        ok = np.isfinite(self.errors).all(axis=1) & (self.error_seasons < PEAK_SEASON)
        return int(ok.sum()) >= MIN_SEASON_ERRORS

    @property
    def point_total(self) -> float:
        return float(np.sum(self.point))

    def _rows(self) -> np.ndarray:
        ok = np.isfinite(self.errors).all(axis=1)
        if self.normal_weeks_only():
            ok &= self.error_seasons < PEAK_SEASON
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
            "season": self.season, "normal_weeks_only": self.normal_weeks_only(),
            "explanation": self.explanation,
        }
