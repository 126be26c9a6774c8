"""Baselines: last value, seasonal naive (same weekday), mean of the last k same weekdays, Holt-Winters."""

from __future__ import annotations

import warnings

import numpy as np

from engine.forecasting.models.base import Forecaster
from engine.forecasting.series import Series, same_weekday_lags


class LastValue(Forecaster):
    name = "last_value"

    def predict(self, series: Series, origins) -> np.ndarray:
        idx = self._origin_index(series, origins)
        return np.repeat(series.qty[idx][:, None], len(self.horizons), axis=1)


class SeasonalNaive(Forecaster):
    """Qty on the most recent day with the target's weekday."""

    name = "seasonal_naive"

    def predict(self, series: Series, origins) -> np.ndarray:
        idx = self._origin_index(series, origins)
        return np.column_stack([same_weekday_lags(series.qty, idx, h, 1)[:, 0] for h in self.horizons])


class WeekdayMean(Forecaster):
    """Mean of the last k days with the target's weekday (k = 4 is the reference baseline)."""

    name = "weekday_mean4"

    def __init__(self, k: int = 4, **params):
        super().__init__(k=k, **params)

    def predict(self, series: Series, origins) -> np.ndarray:
        idx = self._origin_index(series, origins)
        k = self.params["k"]
        cols = []
        for h in self.horizons:
            lags = same_weekday_lags(series.qty, idx, h, k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                cols.append(np.nanmean(lags, axis=1))
        return np.column_stack(cols)


class HoltWinters(Forecaster):
    """Additive Holt-Winters (statsmodels ExponentialSmoothing, weekly season, damped trend).

    Parameters and initial states are estimated on the training data only; forecasts at later
    origins run the same fixed-parameter filter over the observations up to the origin.
    """

    name = "holt_winters"
    param_grid = ({"damped": True},)

    def fit(self, series: Series, horizons, progress=None):
        super().fit(series, horizons)
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = series.qty[-2 * 365:] if len(series.qty) > 2 * 365 else series.qty
        self._train_offset = len(series.qty) - len(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ExponentialSmoothing(y, trend="add", damped_trend=self.params.get("damped", True), seasonal="add",
                                       seasonal_periods=7, initialization_method="estimated").fit()
        p = res.params
        self._fit = {
            "alpha": float(p["smoothing_level"]), "beta": float(p["smoothing_trend"]), "gamma": float(p["smoothing_seasonal"]),
            "phi": float(p["damping_trend"]) if self.params.get("damped", True) else 1.0,
            "l0": float(p["initial_level"]), "b0": float(p["initial_trend"]), "s0": np.asarray(p["initial_seasons"], dtype=float),
        }
        return self

    def _states(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Level, trend and season after each observation (the additive damped Holt-Winters recursion)."""
        f = self._fit
        a, b, g, phi = f["alpha"], f["beta"], f["gamma"], f["phi"]
        n, m = len(y), 7
        level, trend = np.empty(n), np.empty(n)
        season = np.empty(n + m)
        season[:m] = f["s0"]
        lp, bp = f["l0"], f["b0"]
        for t in range(n):
            s_old = season[t]
            lt = a * (y[t] - s_old) + (1 - a) * (lp + phi * bp)
            bt = b * (lt - lp) + (1 - b) * phi * bp
            season[t + m] = g * (y[t] - lp - phi * bp) + (1 - g) * s_old
            level[t], trend[t] = lt, bt
            lp, bp = lt, bt
        return level, trend, season[m:]

    def predict(self, series: Series, origins) -> np.ndarray:
        idx = self._origin_index(series, origins)
        y = series.qty[self._train_offset: idx.max() + 1]
        level, trend, season = self._states(y)
        j = idx - self._train_offset
        phi = self._fit["phi"]
        cols = []
        for h in self.horizons:
            damp = sum(phi ** i for i in range(1, h + 1))
            s_idx = j + h - 7 * (-(-h // 7))  # the latest season state of the target weekday
            cols.append(level[j] + damp * trend[j] + season[s_idx])
        return np.column_stack(cols)
