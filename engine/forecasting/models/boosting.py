"""Gradient boosting (scikit-learn HistGradientBoostingRegressor) on the builder's features.

One regressor per horizon h. Inputs at origin t: ``build_features(lead_time=h)`` columns of day t
plus same-weekday lags of the target weekday and recent values (all dated <= t). The regressor
learns the correction to the mean of the last 4 same weekdays, which keeps trees sensible when the
level drifts outside the training range.
"""

from __future__ import annotations

import warnings

import numpy as np

from engine.data.features import FEATURE_COLUMNS
from engine.forecasting.models.base import Forecaster
from engine.forecasting.series import Series, past_values, same_weekday_lags

LAG_FEATURES = ["same_wd_1", "same_wd_2", "same_wd_3", "same_wd_4", "same_wd_mean4", "qty_t", "qty_t1", "ma28"]


def design_matrix(series: Series, idx: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, base): features at the origin rows ``idx`` for horizon h, and the weekday-mean-4 base."""
    frame = series.frame(horizon)
    feats = frame.select(FEATURE_COLUMNS).cast({c: float for c in FEATURE_COLUMNS}).to_numpy()[idx]
    lags = same_weekday_lags(series.qty, idx, horizon, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = np.nanmean(lags, axis=1)
        recent = past_values(series.qty, idx, 28)
        ma28 = np.nanmean(recent, axis=1)
    X = np.column_stack([feats, lags, base, recent[:, 0], recent[:, 1], ma28])
    return X, np.nan_to_num(base, nan=float(np.nanmean(series.qty)))


class GradientBoosting(Forecaster):
    name = "gboost"
    # one setting: with selection folds spread over the year a second grid point doubled the fits for no gain
    param_grid = ({"max_iter": 150, "learning_rate": 0.08, "max_leaf_nodes": 15, "min_samples_leaf": 20},)

    def __init__(self, **params):
        super().__init__(**(params or dict(self.param_grid[0])))
        self.features = [*FEATURE_COLUMNS, *LAG_FEATURES]

    def fit(self, series: Series, horizons, progress=None):
        super().fit(series, horizons)
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        self._models = []
        for i, h in enumerate(self.horizons):
            target = series.frame(h)["target"].to_numpy().astype(float)
            rows = np.flatnonzero(~np.isnan(target))
            rows = rows[rows >= 28]  # a month of history for the lag features
            if len(rows) < 60:
                raise ValueError(f"only {len(rows)} training days for store {series.store} product {series.product}; give at least 60 days of history before the forecast start.")
            X, base = design_matrix(series, rows, h)
            model = HistGradientBoostingRegressor(random_state=0, **self.params)
            with threadpool_limits(1):  # small data: one thread avoids OpenMP spinning on a shared machine
                model.fit(X, target[rows] - base)
            self._models.append(model)
            if progress:
                progress(self.name, (i + 1) / len(self.horizons), f"horizon {h} fitted")
        return self

    def predict(self, series: Series, origins) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        idx = self._origin_index(series, origins)
        cols = []
        for h, model in zip(self.horizons, self._models):
            X, base = design_matrix(series, idx, h)
            with threadpool_limits(1):
                cols.append(base + model.predict(X))
        return np.column_stack(cols)
