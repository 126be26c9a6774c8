"""Tomorrow's demand as known at 22:00 of the close: the forecasting package's lead-window quantiles, stockouts aside.

``close_quantiles(ds, store, product, date)`` is ``engine.forecasting.lead_window.forecast_lead_window``
(models trained on every day up to and including the close, chosen by forward-chaining validation,
calibration errors from out-of-sample folds before the close, rescaled to today's level) with what
only ordering knows: the stock book's censored days. A day whose book closed at 0 sold at most what
was on the shelf, so its sales understate demand: it is imputed in the training data
(``impute_censored``) and its origins are left out of the calibration errors.

The nightly batch trains the same models for the same close and hands them in (``fitted=``), so
each series is trained once and the sheet's forecast is the batch's forecast. Any callable
``(ds, store, product, date) -> LeadWindowQuantiles`` can replace ``default_producer``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from engine.forecasting import lead_window
from engine.forecasting.quantiles import LeadWindowQuantiles
from engine.forecasting.training import TrainedModel
from engine.inventory.forecasts import store_view


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


def train_for_close(ds, store: int, product: int, date: dt.date, model="auto", models_dir=None, censored=()
                    ) -> tuple[TrainedModel, dict[str, TrainedModel]]:
    """(the chosen model, every candidate) trained on every day up to and including ``date`` (censored days
    imputed); ``model``: 'auto', one name, or a tuple of candidate names."""
    view = impute_censored(store_view(ds, store), store, product, censored)
    return lead_window.train_for_close(view, store, product, date, model, models_dir)


def close_quantiles(ds, store: int, product: int, date: dt.date, model: str = "auto", models_dir=None, fitted=None,
                    censored=()) -> LeadWindowQuantiles:
    """Lead-window quantiles at the close ``date`` (see the module docstring). ``fitted``: the ``TrainedModel``
    of ``train_for_close`` for this close, when the caller has it already."""
    view = impute_censored(store_view(ds, store), store, product, censored)
    return lead_window.forecast_lead_window(view, store, product, date, model, models_dir, fitted=fitted, censored=censored)


def default_producer(model: str = "auto", models_dir=None, book=None):
    """A producer ``(ds, store, product, date) -> LeadWindowQuantiles`` for ``order_sheet`` (censored days from
    ``book``, a StockBook, are imputed and left out of the calibration errors)."""
    from engine.ordering.stockbook import censored_days

    def produce(ds, store, product, date):
        return close_quantiles(ds, store, product, date, model, models_dir, censored=censored_days(ds, book, store, product))

    return produce
