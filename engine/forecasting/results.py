"""The two entry points: ``run_forecast`` (CLI and Forecast page) and ``lead_window_forecasts`` (orders).

``run_forecast`` trains each model only on data before ``test_start`` (hyper-parameters and the
chosen model come from forward-chaining CV before it) and forecasts every day of the test window
walking forward: the forecast for day d is made at d - LeadTime from observations up to that day.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.data.dataset import Dataset
from engine.forecasting.backtest import MIN_TRAIN_DAYS, N_FOLDS, FOLD_DAYS, predict_window
from engine.forecasting.metrics import all_metrics, seasonal_naive_scale
from engine.forecasting.models import AUTO_MODELS, model_class, parse_models
from engine.forecasting.models.base import Progress
from engine.forecasting.series import Series
from engine.forecasting.training import train_models
from engine.stats import residual_diagnostics

HISTORY_DAYS = 56


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


@dataclass
class ForecastResult:
    store: int
    product: int
    lead_time: int
    model: str  # the chosen model (lowest validation WAPE)
    metrics: dict  # test-window metrics of the chosen model
    models: dict  # name -> test-window metrics
    validation: dict  # name -> forward-chaining CV metrics (what the choice was made on)
    predictions: pl.DataFrame  # date, actual, forecast (chosen model)
    all_predictions: pl.DataFrame  # date, model, actual, forecast
    fit_seconds: dict = field(default_factory=dict)  # name -> seconds of the final fit (0 = reused)
    cv_seconds: dict = field(default_factory=dict)
    reused: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    test_start: dt.date | None = None
    test_end: dt.date | None = None
    history: pl.DataFrame | None = None  # date, actual: the weeks before the test window (for charts)

    @property
    def residuals(self) -> np.ndarray:
        p = self.predictions.drop_nulls("actual")
        return (p["actual"] - p["forecast"]).to_numpy()

    def diagnostics(self):
        """Residual diagnostics of the chosen model on the test window (the Explore page's tests)."""
        return residual_diagnostics(self.residuals, what="forecast errors")

    def comparison(self) -> pl.DataFrame:
        """One row per model: test and validation metrics, fit seconds, chosen flag."""
        rows = []
        for name, m in self.models.items():
            v = self.validation.get(name, {})
            rows.append({"model": name, "chosen": name == self.model, **{k: m.get(k) for k in m},
                         "validation_wape": v.get("wape"), "fit_seconds": self.fit_seconds.get(name), "reused": self.reused.get(name)})
        return pl.DataFrame(rows).sort("validation_wape", nulls_last=True)

    def to_dict(self) -> dict:
        out = {"store": self.store, "product": self.product, "lead_time": self.lead_time, "model": self.model, **_clean(self.metrics),
               "models": {n: _clean(m) for n, m in self.models.items()},
               "validation": {n: _clean(m) for n, m in self.validation.items()},
               "fit_seconds": self.fit_seconds, "reused": self.reused, "params": self.params,
               "predictions": [{"date": str(r["date"]), "actual": r["actual"], "forecast": r["forecast"]} for r in self.predictions.iter_rows(named=True)]}
        return out


def _check_window(ds: Dataset, start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValueError(f"the window ends ({end}) before it starts ({start}); give an end on or after the start.")
    if start > ds.end:
        raise ValueError(f"{start} is after the last day of data ({ds.end}); pick a start on or before it.")
    if (start - ds.start).days < MIN_TRAIN_DAYS + N_FOLDS * FOLD_DAYS:
        raise ValueError(f"{start} leaves too little history (data starts {ds.start}); pick a start at least "
                         f"{MIN_TRAIN_DAYS + N_FOLDS * FOLD_DAYS} days after it.")


def run_forecast(ds: Dataset, store: int, products, test_start: dt.date, test_end: dt.date, models="auto",
                 models_dir=None, progress: Progress | None = None) -> list[ForecastResult]:
    """Backtest the named models ('auto', 'all' or a list) on [test_start, test_end] for each product (horizon = LeadTime)."""
    names = parse_models(models)
    _check_window(ds, test_start, test_end)
    if test_end > ds.end:
        raise ValueError(f"the test window ends after the data ({ds.end}); pick an end on or before it.")
    results = []
    for product in [int(p) for p in products]:
        series = Series(ds, store, product)
        horizons = (series.lead_time,)

        def tagged(name, frac, msg, _p=product):
            if progress:
                progress(name, frac, f"product {_p}: {msg}")

        trained, chosen = train_models(names, series, horizons, test_start, models_dir, tagged)
        scale = seasonal_naive_scale(series.before(test_start).qty)
        frames, metrics = [], {}
        for name, t in trained.items():
            p = predict_window(t.model, series, test_start, test_end)
            metrics[name] = all_metrics(p["actual"].to_numpy(), p["forecast"].to_numpy(), scale)
            frames.append(p.select(pl.col("target_date").alias("date"), pl.lit(name).alias("model"), "actual", "forecast"))
        every = pl.concat(frames)
        results.append(ForecastResult(
            store=int(store), product=product, lead_time=series.lead_time, model=chosen, metrics=metrics[chosen], models=metrics,
            validation={n: t.cv.metrics for n, t in trained.items()},
            predictions=every.filter(pl.col("model") == chosen).select("date", "actual", "forecast"),
            all_predictions=every, fit_seconds={n: t.fit_seconds for n, t in trained.items()},
            cv_seconds={n: t.cv_seconds for n, t in trained.items()}, reused={n: t.reused for n, t in trained.items()},
            params={n: t.cv.params for n, t in trained.items()}, test_start=test_start, test_end=test_end,
            history=pl.DataFrame({"date": series.dates, "actual": series.qty}).filter(
                (pl.col("date") < test_start) & (pl.col("date") >= test_start - dt.timedelta(days=HISTORY_DAYS))),
        ))
    return results


def lead_window_forecasts(ds: Dataset, store: int, product: int, start: dt.date, end: dt.date, model: str = "auto",
                          models_dir=None) -> pl.DataFrame:
    """For every order day t in [start, end]: one row per horizon h = 1..L (L = product LeadTime) with
    columns order_date (t), horizon (h), target_date (t+h), forecast (float >= 0), actual (float or null past the data), model (str).
    Models are trained only on data before `start` (model='auto' = the best by forward-chaining backtest before `start`
    among the cheap models unless told otherwise); the forecast made at t uses observations up to t only."""
    _check_window(ds, start, end)
    if end > ds.end:
        raise ValueError(f"order days after the last day of data ({ds.end}) cannot be forecast; pick an end on or before it.")
    if model in (None, "auto"):
        names = AUTO_MODELS
    else:
        model_class(model)
        names = (model,)
    series = Series(ds, store, product)
    horizons = tuple(range(1, series.lead_time + 1))
    trained, chosen = train_models(names, series, horizons, start, models_dir)
    fitted = trained[chosen].model
    origins = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    values = np.clip(np.nan_to_num(fitted.predict(series, origins), nan=0.0), 0.0, None)
    n = len(series.qty)
    rows = []
    for i, o in enumerate(origins):
        for j, h in enumerate(horizons):
            ti = series.index(o) + h
            rows.append((o, h, o + dt.timedelta(days=h), float(values[i, j]), float(series.qty[ti]) if ti < n else None, chosen))
    return pl.DataFrame(rows, schema={"order_date": pl.Date, "horizon": pl.Int32, "target_date": pl.Date, "forecast": pl.Float64,
                                      "actual": pl.Float64, "model": pl.String}, orient="row")
