"""Demand forecasting: baselines, gradient boosting, Keras LSTM/CNN, forward-chaining backtests.

Entry points: ``lead_window_forecasts`` (order days x horizons 1..LeadTime, for ordering and
inventory) and ``run_forecast`` (backtest of several models on a test window: the CLI and the page).
Heavy libraries (scikit-learn, statsmodels, tensorflow) are imported inside the models' ``fit``.
"""

from engine.forecasting.models import ALL_MODELS, AUTO_MODELS, CHEAP_MODELS, NEURAL_MODELS, REFERENCE_BASELINE, parse_models
from engine.forecasting.results import ForecastResult, lead_window_forecasts, run_forecast

__all__ = ["ALL_MODELS", "AUTO_MODELS", "CHEAP_MODELS", "NEURAL_MODELS", "REFERENCE_BASELINE", "ForecastResult", "lead_window_forecasts",
           "parse_models", "run_forecast"]
