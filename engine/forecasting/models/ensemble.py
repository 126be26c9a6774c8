"""Simple ensemble: the mean of already fitted members' forecasts."""

from __future__ import annotations

import numpy as np

from engine.forecasting.models.base import Forecaster


class Ensemble(Forecaster):
    name = "ensemble"

    def __init__(self, members: list[Forecaster]):
        super().__init__(members=[m.name for m in members])
        self.members = members
        self.horizons = members[0].horizons

    def predict(self, series, origins) -> np.ndarray:
        return np.mean([m.predict(series, origins) for m in self.members], axis=0)
