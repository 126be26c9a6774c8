"""Choose hyper-parameters by forward-chaining CV, fit the final model before the training end, save it.

``train_models`` returns, per model name, the fitted model, its CV result and whether it came from
the models folder (a model is reused when the training data and settings are unchanged).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path

from engine.forecasting.backtest import CrossValidation, best_ensemble, cross_validate, ensemble_wins
from engine.forecasting.metrics import seasonal_naive_scale
from engine.forecasting.models import model_class
from engine.forecasting.models.base import Forecaster, Progress
from engine.forecasting.models.ensemble import Ensemble
from engine.forecasting.series import Series
from engine.forecasting.store import ModelStore, model_key
from engine.forecasting.store import default_models_dir


@dataclass
class TrainedModel:
    name: str
    model: Forecaster
    cv: CrossValidation
    fit_seconds: float  # final fit (0 when reused)
    cv_seconds: float
    reused: bool
    path: Path | None = None


def train_model(name: str, series: Series, horizons, train_end: dt.date, store: ModelStore | None,
                progress: Progress | None = None) -> TrainedModel:
    cls = model_class(name)
    train = series.before(train_end)
    fingerprint = train.fingerprint()
    key = model_key(series.store, series.product, name, {}, horizons, train_end)
    if store is not None and (hit := store.load(key, fingerprint)) is not None:
        model, meta = hit
        if progress:
            progress(name, 1.0, "reused the saved model (data unchanged)")
        return TrainedModel(name, model, CrossValidation.from_meta(meta["cv"]), 0.0, 0.0, True, store.path(key))

    def cv_progress(n, frac, msg):
        if progress:
            progress(n, 0.8 * frac, msg)

    cv = cross_validate(cls, series, horizons, train_end, progress=cv_progress)

    def fit_progress(n, frac, msg):
        if progress:
            progress(n, 0.8 + 0.2 * frac, f"final fit: {msg}")

    t0 = time.perf_counter()
    model = cls(**cv.params).fit(train, horizons, fit_progress)
    seconds = time.perf_counter() - t0
    path = None
    if store is not None:
        meta = {
            "model": name, "params": cv.params, "store": series.store, "product": series.product, "horizons": list(horizons),
            "train_end": str(train_end), "data_fingerprint": series.ds.fingerprint, "training_fingerprint": fingerprint,
            "features": getattr(model, "features", []), "window": getattr(model, "window", None),
            "cv": cv.to_meta(), "fit_seconds": seconds, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        path = store.save(key, model, meta)
    if progress:
        progress(name, 1.0, f"done (validation WAPE {cv.score:.1%})")
    return TrainedModel(name, model, cv, seconds, cv.seconds, False, path)


def _rank(score: float) -> float:
    return score if math.isfinite(score) else math.inf


def choose(cvs: dict[str, CrossValidation], scale: float, ensemble: bool = True) -> tuple[str, CrossValidation | None]:
    """(the chosen name, the ensemble's CV when it is chosen): the single model with the lowest selection score,
    unless the mean of the top 2 or 3 beats every one of its members by ``ENSEMBLE_MARGIN`` on the same windows."""
    chosen = min(cvs, key=lambda n: _rank(cvs[n].score))
    if ensemble and len(cvs) >= 2:
        ens = best_ensemble(cvs, scale)
        if ens is not None and ensemble_wins(ens, [cvs[m] for m in ens.params["members"]]):
            return "ensemble", ens
    return chosen, None


def train_models(names, series: Series, horizons, train_end: dt.date, models_dir=None, progress: Progress | None = None,
                 ensemble: bool = True) -> tuple[dict[str, TrainedModel], str]:
    """Train every named model; returns (trained by name, the chosen name: see ``choose``). A candidate that cannot be
    trained on this series (a ValueError, e.g. too little history for its folds) is left out; when none can, the
    first one's sentence is raised."""
    store = ModelStore(models_dir if models_dir is not None else default_models_dir(series.ds))
    trained, failed = {}, {}
    for n in names:
        try:
            trained[n] = train_model(n, series, horizons, train_end, store, progress)
        except ValueError as exc:  # e.g. a store too new for the pooled model's older folds: the others still compete
            failed[n] = exc
            if progress:
                progress(n, 1.0, f"left out: {exc.args[0] if exc.args else exc}")
    if not trained:
        raise failed[names[0]]
    scale = seasonal_naive_scale(series.before(train_end).qty)
    chosen, ens = choose({n: t.cv for n, t in trained.items()}, scale, ensemble)
    if ens is not None:
        members = [trained[m].model for m in ens.params["members"]]
        trained["ensemble"] = TrainedModel("ensemble", Ensemble(members), ens, 0.0, 0.0, all(trained[m].reused for m in ens.params["members"]))
    return trained, chosen
