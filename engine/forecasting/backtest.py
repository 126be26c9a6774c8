"""Forward-chaining (expanding window) backtests.

``walk_forward`` fits a model on the series cut before ``start`` and forecasts every target day of
[start, end] from the origin t = target - h, so each forecast uses observations up to t only.
``cross_validate`` repeats that on consecutive folds just before the training end (each fold trained
on everything before it) and picks the hyper-parameters with the lowest pooled WAPE.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import polars as pl

from engine.forecasting.metrics import all_metrics, seasonal_naive_scale, wape
from engine.forecasting.models.base import Forecaster, Progress
from engine.forecasting.series import Series

N_FOLDS = 3
FOLD_DAYS = 28
MIN_TRAIN_DAYS = 180


def folds(train_end: dt.date, n_folds: int = N_FOLDS, fold_days: int = FOLD_DAYS) -> list[tuple[dt.date, dt.date]]:
    """Validation windows (first, last target day), oldest first, the last one ending the day before train_end."""
    out = []
    for k in range(n_folds, 0, -1):
        first = train_end - dt.timedelta(days=k * fold_days)
        out.append((first, first + dt.timedelta(days=fold_days - 1)))
    return out


def predict_window(model: Forecaster, series: Series, start: dt.date, end: dt.date) -> pl.DataFrame:
    """origin, horizon, target_date, actual (null past the data), forecast (>= 0) for targets in [start, end]."""
    hmax, hmin = max(model.horizons), min(model.horizons)
    first = max(start - dt.timedelta(days=hmax), series.start)
    last = min(end - dt.timedelta(days=hmin), series.end)
    if last < first:
        raise ValueError(f"no forecast origin lies inside the data for {start} to {end}; pick dates within {series.start} and {series.end}.")
    origins = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    values = model.predict(series, origins)
    rows = []
    n = len(series.qty)
    for i, o in enumerate(origins):
        for j, h in enumerate(model.horizons):
            target = o + dt.timedelta(days=h)
            if start <= target <= end:
                ti = series.index(target)
                f = float(values[i, j])
                rows.append((o, h, target, float(series.qty[ti]) if ti < n else None, max(f, 0.0) if math.isfinite(f) else 0.0))
    return pl.DataFrame(rows, schema={"origin": pl.Date, "horizon": pl.Int32, "target_date": pl.Date, "actual": pl.Float64, "forecast": pl.Float64}, orient="row")


def walk_forward(model: Forecaster, series: Series, horizons, start: dt.date, end: dt.date, progress: Progress | None = None) -> tuple[Forecaster, pl.DataFrame, float]:
    """Fit on data before ``start`` and forecast [start, end]; returns (model, predictions, fit seconds)."""
    train = series.before(start)
    if len(train.qty) < MIN_TRAIN_DAYS:
        raise ValueError(f"only {len(train.qty)} days of data before {start}; a forecast needs at least {MIN_TRAIN_DAYS} days of history, so pick a later start.")
    t0 = time.perf_counter()
    model.fit(train, horizons, progress)
    seconds = time.perf_counter() - t0
    return model, predict_window(model, series, start, end), seconds


@dataclass
class CrossValidation:
    name: str
    params: dict
    score: float  # pooled WAPE over the folds
    metrics: dict
    predictions: pl.DataFrame  # fold, origin, horizon, target_date, actual, forecast
    grid: list[dict] = field(default_factory=list)  # every params tried with its score
    seconds: float = 0.0

    def to_meta(self) -> dict:
        return {"name": self.name, "params": self.params, "score": self.score, "metrics": self.metrics, "grid": self.grid,
                "seconds": self.seconds, "predictions": self.predictions.with_columns(pl.col("origin", "target_date").cast(pl.String)).to_dicts()}

    @classmethod
    def from_meta(cls, meta: dict) -> CrossValidation:
        preds = pl.DataFrame(meta["predictions"], schema={"fold": pl.Int32, "origin": pl.String, "horizon": pl.Int32, "target_date": pl.String,
                                                           "actual": pl.Float64, "forecast": pl.Float64})
        preds = preds.with_columns(pl.col("origin", "target_date").str.to_date())
        return cls(meta["name"], meta["params"], meta["score"], meta["metrics"], preds, meta.get("grid", []), meta.get("seconds", 0.0))


def cross_validate(cls: type[Forecaster], series: Series, horizons, train_end: dt.date, n_folds: int = N_FOLDS,
                   fold_days: int = FOLD_DAYS, progress: Progress | None = None, params_grid=None) -> CrossValidation:
    """Forward-chaining CV before ``train_end``: the params with the lowest pooled WAPE win."""
    grid = list(params_grid or cls.param_grid)
    windows = folds(train_end, n_folds, fold_days)
    scale = seasonal_naive_scale(series.before(windows[0][0]).qty)
    best: CrossValidation | None = None
    tried = []
    t0 = time.perf_counter()
    steps, step = len(grid) * len(windows), 0
    for params in grid:
        parts = []
        for k, (first, last) in enumerate(windows):
            _, preds, _ = walk_forward(cls(**params), series, horizons, first, last)
            parts.append(preds.with_columns(pl.lit(k, dtype=pl.Int32).alias("fold")))
            step += 1
            if progress:
                progress(cls.name, step / steps, f"validation fold {k + 1} of {len(windows)}")
        preds = pl.concat(parts).select("fold", "origin", "horizon", "target_date", "actual", "forecast")
        score = wape(preds["actual"].to_numpy(), preds["forecast"].to_numpy())
        tried.append({"params": params, "wape": score})
        if best is None or (math.isfinite(score) and not score >= best.score):
            best = CrossValidation(cls.name, params, score, all_metrics(preds["actual"].to_numpy(), preds["forecast"].to_numpy(), scale), preds)
    best.grid = tried
    best.seconds = time.perf_counter() - t0
    return best


def ensemble_of(cvs: list[CrossValidation], scale: float) -> CrossValidation:
    """Mean of the members' forecasts on the same validation days."""
    keys = ["fold", "origin", "horizon", "target_date"]
    joined = cvs[0].predictions.select(*keys, "actual", pl.col("forecast").alias("f0"))
    for i, cv in enumerate(cvs[1:], 1):
        joined = joined.join(cv.predictions.select(*keys, pl.col("forecast").alias(f"f{i}")), on=keys, how="inner")
    preds = joined.select(*keys, "actual", pl.mean_horizontal([f"f{i}" for i in range(len(cvs))]).alias("forecast")).sort("fold", "target_date", "horizon")
    a, f = preds["actual"].to_numpy(), preds["forecast"].to_numpy()
    return CrossValidation("ensemble", {"members": [c.name for c in cvs]}, wape(a, f), all_metrics(a, f, scale), preds)


def best_ensemble(cvs: dict[str, CrossValidation], scale: float) -> CrossValidation | None:
    """The better of the mean of the top 2 and top 3 models by CV WAPE (None with fewer than 2 models)."""
    ranked = sorted(cvs.values(), key=lambda c: c.score)
    options = [ensemble_of(ranked[:k], scale) for k in (2, 3) if len(ranked) >= k]
    return min(options, key=lambda c: c.score) if options else None

