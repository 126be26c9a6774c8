"""Forward-chaining (expanding window) backtests.

``walk_forward`` fits a model on the series cut before ``start`` and forecasts every target day of
[start, end] from the origin t = target - h, so each forecast uses observations up to t only.
``cross_validate`` repeats that on selection folds (each fold trained on everything before it) and
picks the hyper-parameters with the lowest recency-weighted WAPE. The folds (``selection_folds``)
are 14-day blocks: the two just before the training end and one every 8 weeks over the past year,
so the choice does not follow one holiday season. Blocks lie on a fixed 14-day grid, so backtests
of consecutive months share their older folds, and a fold's fit is memoised per Dataset object.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import polars as pl

from engine.data.memo import dataset_memo
from engine.forecasting.metrics import all_metrics, seasonal_naive_scale, wape
from engine.forecasting.models.base import Forecaster, Progress
from engine.forecasting.series import Series

N_FOLDS = 3
FOLD_DAYS = 28
MIN_TRAIN_DAYS = 180
BLOCK_DAYS = 14
SPREAD_EVERY = 4  # blocks between the spread folds (8 weeks)
SPREAD_DAYS = 365  # how far back the spread folds reach
RECENCY_DAYS = 240  # a fold's weight is exp(-age / RECENCY_DAYS)
_GRID = dt.date(2000, 1, 3)


def selection_folds(train_end: dt.date, earliest: dt.date | None = None) -> list[tuple[dt.date, dt.date]]:
    """Selection windows (first, last target day), oldest first, all ending before ``train_end``:
    the two latest whole 14-day grid blocks, and every 4th grid block reaching a year back (only
    blocks that start on or after ``earliest``, the first day with enough history)."""
    last_block = ((train_end - _GRID).days - BLOCK_DAYS) // BLOCK_DAYS  # the latest block ending before train_end
    picks = {last_block, last_block - 1}
    b = last_block - 2 - ((last_block - 2) % SPREAD_EVERY)
    while (train_end - (_GRID + dt.timedelta(days=b * BLOCK_DAYS))).days <= SPREAD_DAYS + BLOCK_DAYS:
        picks.add(b)
        b -= SPREAD_EVERY
    out = []
    for b in sorted(picks):
        first = _GRID + dt.timedelta(days=b * BLOCK_DAYS)
        if earliest is None or first >= earliest or b == last_block:
            out.append((first, first + dt.timedelta(days=BLOCK_DAYS - 1)))
    return out


def fold_weights(windows, train_end: dt.date) -> list[float]:
    """Recency weights: exp(-(days from the fold's end to the training end) / RECENCY_DAYS)."""
    return [math.exp(-(train_end - last).days / RECENCY_DAYS) for _, last in windows]


def weighted_wape(preds: pl.DataFrame, weights) -> float:
    """sum_k w_k sum|e| / sum_k w_k sum|y| over the folds k of ``preds`` (fold, actual, forecast)."""
    w = pl.Series("w", list(weights), dtype=pl.Float64)
    p = preds.drop_nulls(["actual", "forecast"]).with_columns(pl.col("fold").cast(pl.Int64))
    wk = pl.DataFrame({"fold": list(range(len(w))), "w": w}).with_columns(pl.col("fold").cast(pl.Int64))
    p = p.join(wk, on="fold", how="left")
    num = float((p["w"] * (p["actual"] - p["forecast"]).abs()).sum())
    den = float((p["w"] * p["actual"].abs()).sum())
    return num / den if den > 0 else math.nan


def _fit_memo(ds) -> dict:
    """Fold fits of one Dataset object (a changed copy never shares them)."""
    return dataset_memo(ds).setdefault("fold_fits", {})


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
    weights: list[float] = field(default_factory=list)  # recency weight of each fold (empty: all equal)

    def to_meta(self) -> dict:
        return {"name": self.name, "params": self.params, "score": self.score, "metrics": self.metrics, "grid": self.grid,
                "seconds": self.seconds, "weights": self.weights, "predictions": self.predictions.with_columns(pl.col("origin", "target_date").cast(pl.String)).to_dicts()}

    @classmethod
    def from_meta(cls, meta: dict) -> CrossValidation:
        preds = pl.DataFrame(meta["predictions"], schema={"fold": pl.Int32, "origin": pl.String, "horizon": pl.Int32, "target_date": pl.String,
                                                           "actual": pl.Float64, "forecast": pl.Float64})
        preds = preds.with_columns(pl.col("origin", "target_date").str.to_date())
        return cls(meta["name"], meta["params"], meta["score"], meta["metrics"], preds, meta.get("grid", []), meta.get("seconds", 0.0),
                   meta.get("weights", []))


def cross_validate(cls: type[Forecaster], series: Series, horizons, train_end: dt.date, n_folds: int | None = None,
                   fold_days: int = FOLD_DAYS, progress: Progress | None = None, params_grid=None) -> CrossValidation:
    """Forward-chaining CV before ``train_end``: the params with the lowest recency-weighted WAPE win.

    Folds: ``selection_folds`` (spread over the past year), or ``n_folds`` consecutive ``fold_days``
    windows just before ``train_end`` when ``n_folds`` is given."""
    grid = list(params_grid or cls.param_grid)
    if n_folds is None:
        windows = selection_folds(train_end, series.start + dt.timedelta(days=MIN_TRAIN_DAYS))
    else:
        windows = folds(train_end, n_folds, fold_days)
    weights = fold_weights(windows, train_end)
    memo = _fit_memo(series.ds)
    scale = seasonal_naive_scale(series.before(windows[0][0]).qty)
    best: CrossValidation | None = None
    tried = []
    t0 = time.perf_counter()
    steps, step = len(grid) * len(windows), 0
    for params in grid:
        parts = []
        for k, (first, last) in enumerate(windows):
            key = (series.store, series.product, cls.name, json_key(params), tuple(horizons), first, last, series.cutoff)
            if key not in memo:
                memo[key] = walk_forward(cls(**params), series, horizons, first, last)[1]
            preds = memo[key]
            parts.append(preds.with_columns(pl.lit(k, dtype=pl.Int32).alias("fold")))
            step += 1
            if progress:
                progress(cls.name, step / steps, f"validation fold {k + 1} of {len(windows)}")
        preds = pl.concat(parts).select("fold", "origin", "horizon", "target_date", "actual", "forecast")
        score = weighted_wape(preds, weights)
        tried.append({"params": params, "wape": score})
        if best is None or (math.isfinite(score) and not score >= best.score):
            best = CrossValidation(cls.name, params, score, all_metrics(preds["actual"].to_numpy(), preds["forecast"].to_numpy(), scale), preds,
                                   weights=weights)
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
    weights = cvs[0].weights
    score = weighted_wape(preds, weights) if weights else wape(a, f)
    return CrossValidation("ensemble", {"members": [c.name for c in cvs]}, score, all_metrics(a, f, scale), preds, weights=weights)


def best_ensemble(cvs: dict[str, CrossValidation], scale: float) -> CrossValidation | None:
    """The better of the mean of the top 2 and top 3 models by CV WAPE (None with fewer than 2 models)."""
    ranked = sorted(cvs.values(), key=lambda c: c.score if math.isfinite(c.score) else math.inf)
    options = [ensemble_of(ranked[:k], scale) for k in (2, 3) if len(ranked) >= k]
    return min(options, key=lambda c: c.score) if options else None


ENSEMBLE_MARGIN = 0.03  # an ensemble must beat its best member's selection WAPE by 3 % (relative) ...
ENSEMBLE_FOLD_SHARE = 0.75  # ... and be better on at least 3 folds in 4: a win on one holiday fold is noise


def fold_wapes(cv: CrossValidation) -> dict[int, float]:
    """WAPE of each selection fold."""
    p = cv.predictions.drop_nulls(["actual", "forecast"])
    g = p.group_by("fold").agg(((pl.col("actual") - pl.col("forecast")).abs().sum() / pl.col("actual").abs().sum()).alias("w"))
    return dict(zip(g["fold"].to_list(), g["w"].to_list()))


def ensemble_wins(ens: CrossValidation, members: list[CrossValidation]) -> bool:
    """True when the ensemble beats its best member on the selection windows: by ``ENSEMBLE_MARGIN`` on the
    weighted WAPE and on at least ``ENSEMBLE_FOLD_SHARE`` of the folds. (On the six 2016 months of the real
    store-44 data a 1 % margin alone let 10 ensembles in of 42 choices; they cost a mean regret of 6 %.)"""
    best = min(members, key=lambda m: m.score if math.isfinite(m.score) else math.inf)
    if not (math.isfinite(ens.score) and math.isfinite(best.score) and ens.score < best.score * (1 - ENSEMBLE_MARGIN)):
        return False
    e, b = fold_wapes(ens), fold_wapes(best)
    shared = [k for k in e if k in b and math.isfinite(e[k]) and math.isfinite(b[k])]
    return bool(shared) and sum(e[k] < b[k] for k in shared) >= ENSEMBLE_FOLD_SHARE * len(shared)


def json_key(params: dict) -> str:
    import json

    return json.dumps(params, sort_keys=True, default=str)

