"""Tomorrow's demand as known at 22:00 of the close: lead-window quantiles from a model trained up to it.

``close_quantiles(ds, store, product, date)`` trains (or reloads from the models folder) the
forecasting models on every day up to and including the close d (``train_models`` with training
end d + 1: the targets it learns from all lie on or before d), picks the one with the lowest
forward-chaining validation WAPE (an ensemble when it wins) and returns a
``LeadWindowQuantiles``: the point forecasts of d+1 .. d+L made from origin d, and as calibration
errors the same model's out-of-sample errors on its validation folds (the 84 days before the close,
each fold forecast by a model that never saw it). Days the stock book flags as censored (the shelf
was empty, so the sales understate demand) are left out of those errors.

The nightly batch trains the same models for the same close and hands them in (``trained=``), so
each series is trained once and the sheet's forecast is the batch's forecast. This is the default
producer of the order sheet until the forecasting package ships its own; any callable
``(ds, store, product, date) -> LeadWindowQuantiles`` can replace it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from engine.forecasting import CHEAP_MODELS
from engine.forecasting.models import model_class
from engine.forecasting.quantiles import LeadWindowQuantiles
from engine.forecasting.series import Series
from engine.forecasting.training import TrainedModel, train_models
from engine.inventory.forecasts import store_view


def model_names(model: str | None) -> tuple[str, ...]:
    """'auto' -> the cheap models (the best by validation WAPE is chosen); a name -> that model only."""
    if model in (None, "auto"):
        return tuple(CHEAP_MODELS)
    model_class(model)
    return (model,)


def impute_censored(ds, store: int, product: int, censored=()):
    """The dataset with the sales of censored days (the shelf was empty: demand was at least the sales) replaced by
    max(sales, mean of the 4 previous same weekdays that were not censored), so a stockout never teaches a model
    that demand was low. Without censored days: ``ds`` itself."""
    import dataclasses

    days = sorted(set(censored))
    if not days:
        return ds
    mine = (pl.col("Store_ID") == int(store)) & (pl.col("Product_ID") == int(product))
    daily = ds.sales.filter(mine).group_by("Date").agg(pl.col("Qty").sum())
    qty = dict(zip(daily["Date"].to_list(), daily["Qty"].fill_null(0.0).to_list()))
    skip = set(days)
    fixed = {}
    for day in days:
        past = [qty[d] for d in (day - dt.timedelta(days=7 * k) for k in range(1, 9)) if d in qty and d not in skip][:4]
        fixed[day] = max(float(qty.get(day, 0.0)), float(np.mean(past)) if past else 0.0)
    patch = pl.DataFrame({"Date": list(fixed), "_imputed": list(fixed.values())}, schema={"Date": ds.sales.schema["Date"], "_imputed": pl.Float64})
    sales = ds.sales.join(patch, on="Date", how="left").with_columns(
        pl.when(mine & pl.col("_imputed").is_not_null()).then(pl.col("_imputed").cast(ds.sales.schema["Qty"]))
        .otherwise(pl.col("Qty")).alias("Qty")).drop("_imputed")
    return dataclasses.replace(ds, sales=sales)


def train_for_close(ds, store: int, product: int, date: dt.date, model: str = "auto", models_dir=None, censored=()
                    ) -> tuple[Series, dict[str, TrainedModel], str]:
    """(series, trained models, chosen name) trained on every day up to and including ``date`` (censored days imputed)."""
    series = Series(impute_censored(store_view(ds, store), store, product, censored), store, product)
    horizons = tuple(range(1, series.lead_time + 1))
    trained, chosen = train_models(model_names(model), series, horizons, date + dt.timedelta(days=1), models_dir)
    return series, trained, chosen


def calibration_errors(predictions: pl.DataFrame, lead_time: int, censored=()) -> tuple[np.ndarray, np.ndarray]:
    """(errors (n, L) actual − forecast, weekday of each origin) from validation predictions
    (origin, horizon, target_date, actual, forecast): origins with every horizon, no censored target day."""
    p = predictions.drop_nulls(["actual", "forecast"])
    if censored:
        bad = p.filter(pl.col("target_date").is_in(list(censored)))["origin"].unique().to_list()
        p = p.filter(~pl.col("origin").is_in(bad))
    p = p.with_columns((pl.col("actual") - pl.col("forecast")).alias("error"))
    wide = p.pivot(on="horizon", index="origin", values="error", aggregate_function="first").sort("origin")
    cols = [str(h) for h in range(1, lead_time + 1)]
    if wide.is_empty() or any(c not in wide.columns for c in cols):
        return np.zeros((0, lead_time)), np.zeros(0, dtype=int)
    wide = wide.drop_nulls(cols)
    errors = wide.select(cols).to_numpy().astype(float)
    weekdays = np.array([d.weekday() for d in wide["origin"].to_list()], dtype=int)
    return errors, weekdays


def quantiles_from_trained(series: Series, trained: dict[str, TrainedModel], chosen: str, date: dt.date,
                           censored=()) -> LeadWindowQuantiles:
    """The LeadWindowQuantiles of the close ``date`` from models already trained up to it."""
    fitted = trained[chosen].model
    L = series.lead_time
    point = np.clip(np.nan_to_num(np.asarray(fitted.predict(series, [date]), dtype=float)[0], nan=0.0), 0.0, None)
    errors, weekdays = calibration_errors(trained[chosen].cv.predictions, L, censored)
    return LeadWindowQuantiles(series.store, series.product, date, L, chosen, point[:L], errors, weekdays)


def close_quantiles(ds, store: int, product: int, date: dt.date, model: str = "auto", models_dir=None, trained=None,
                    censored=()) -> LeadWindowQuantiles:
    """Lead-window quantiles at the close ``date`` (see the module docstring). ``trained``: the
    (series, trained, chosen) of ``train_for_close`` for this close, when the caller has them already."""
    if date > ds.end:
        raise ValueError(f"{date} is after the last day of data ({ds.end}); pick a close on or before it.")
    series, models, chosen = trained if trained is not None else train_for_close(ds, store, product, date, model, models_dir, censored)
    return quantiles_from_trained(series, models, chosen, date, censored)


def default_producer(model: str = "auto", models_dir=None, book=None):
    """A producer ``(ds, store, product, date) -> LeadWindowQuantiles`` for ``order_sheet`` (censored days from
    ``book``, a StockBook, are left out of the calibration errors)."""
    from engine.ordering.stockbook import censored_days

    def produce(ds, store, product, date):
        return close_quantiles(ds, store, product, date, model, models_dir, censored=censored_days(ds, book, store, product))

    return produce
