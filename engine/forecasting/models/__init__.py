"""Model registry: name -> Forecaster class. Neural models are imported only when asked for."""

from __future__ import annotations

from engine.forecasting.models.base import Forecaster
from engine.forecasting.models.baselines import HoltWinters, LastValue, SeasonalNaive, WeekdayMean
from engine.forecasting.models.boosting import GradientBoosting
from engine.forecasting.models.neural import CNN, LSTM
from engine.forecasting.models.pooled import PooledBoosting

CHEAP_MODELS = ("last_value", "seasonal_naive", "weekday_mean4", "holt_winters", "gboost", "pooled_lgbm")  # seconds per series
# model="auto": the cheap ones without the seed's per-series gboost (the pooled model beats it on real data at a
# fraction of the fits) and without holt_winters (about 1 s of CPU per fit, 9 fits per series and close, so most
# of a nightly series' cost, while on the real store-44 months it was never chosen and its WAPE, 0.139, was no
# better than weekday_mean4's 0.135); both stay candidates by name
AUTO_MODELS = ("last_value", "seasonal_naive", "weekday_mean4", "pooled_lgbm")
NEURAL_MODELS = ("lstm", "cnn")
ALL_MODELS = (*CHEAP_MODELS, *NEURAL_MODELS)
REFERENCE_BASELINE = "weekday_mean4"


def model_class(name: str) -> type[Forecaster]:
    cheap = {"last_value": LastValue, "seasonal_naive": SeasonalNaive, "weekday_mean4": WeekdayMean,
             "holt_winters": HoltWinters, "gboost": GradientBoosting, "pooled_lgbm": PooledBoosting}
    if name in cheap:
        return cheap[name]
    if name in NEURAL_MODELS:
        return {"lstm": LSTM, "cnn": CNN}[name]
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(ALL_MODELS)} (or 'all' / 'auto').")


def parse_models(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """'all' -> every model, 'auto'/None -> AUTO_MODELS, 'lstm,cnn' -> those (the reference baseline is always added)."""
    if spec is None or spec == "auto":
        return AUTO_MODELS
    if spec == "all":
        return ALL_MODELS
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise ValueError("no model named; give e.g. --models gboost,lstm or --models all.")
    for n in names:
        if n not in ALL_MODELS:
            raise ValueError(f"unknown model {n!r}; choose from {', '.join(ALL_MODELS)} (or 'all' / 'auto').")
    if REFERENCE_BASELINE not in names:
        names.insert(0, REFERENCE_BASELINE)
    return tuple(dict.fromkeys(names))
