"""After the fact: what was recommended, what the buyer chose, what demand turned out to be.

For each confirmed order (the newest version of each close, per product) whose lead window
close+1 .. close+L lies in the sales data: the recommended and final quantities, the sheet's
forecast of the L-day demand (kept in the ledger at confirmation), the weekday-mean baseline of the
same days, the buyer's implied forecast (the model's forecast + final − recommended: an override
moves the order one for one) and the actual demand. Days the stock book flags as censored (the
shelf was empty) are left out: their sales understate demand.

``fva_summary`` gives, per forecaster (model, weekday mean, buyer), the bias (sum of forecast −
actual over the sum of actual) and the WAPE, and the forecast value added against the weekday mean
(1 − WAPE / WAPE of the weekday mean: positive = better than the naive baseline); the buyer's FVA is
also given against the model (did the overrides help?).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from engine.ordering.ledger import OrderLedger
from engine.ordering.stockbook import StockBook, censored_days, daily_sales

ORDER_COLUMNS = {"store": pl.Int64, "order_date": pl.Date, "product": pl.Int64, "version": pl.Int64, "lead_time": pl.Int64,
                 "model": pl.String, "recommended": pl.Float64, "final": pl.Float64, "reason": pl.String, "forecast": pl.Float64,
                 "baseline": pl.Float64, "buyer": pl.Float64, "actual": pl.Float64}


def after_the_fact(ds, ledger: OrderLedger, store: int | None = None) -> pl.DataFrame:
    """One row per confirmed order line with a known outcome (see the module docstring)."""
    hist = ledger.history(store)
    fc = ledger.forecasts(store)
    if hist.is_empty() or fc.is_empty():
        return pl.DataFrame(schema=ORDER_COLUMNS)
    newest = hist.group_by("store_id", "order_date").agg(pl.col("version").max().alias("newest"))
    lines = hist.join(newest, on=["store_id", "order_date"]).filter(pl.col("version") == pl.col("newest"))
    lines = lines.join(fc, on=["store_id", "order_date", "version", "product_id"], how="inner")
    book = StockBook(ledger)
    rows, sales_of, censored_of = [], {}, {}
    for r in lines.sort("order_date", "product_id").iter_rows(named=True):
        key = (r["store_id"], r["product_id"])
        if key not in sales_of:
            sales_of[key] = daily_sales(ds, *key)
            censored_of[key] = censored_days(ds, book, *key)
        days = [r["order_date"] + dt.timedelta(days=h) for h in range(1, int(r["lead_time"]) + 1)]
        if days[-1] > ds.end or any(d in censored_of[key] for d in days):
            continue
        actual = sum(sales_of[key].get(d, 0.0) for d in days)
        buyer = max(0.0, r["forecast_total"] + r["final_qty"] - r["recommended_qty"])
        rows.append((r["store_id"], r["order_date"], r["product_id"], r["version"], r["lead_time"], r["model"], r["recommended_qty"],
                     r["final_qty"], r["reason"], r["forecast_total"], r["baseline_total"], buyer, actual))
    return pl.DataFrame(rows, schema=ORDER_COLUMNS, orient="row")


def _stats(forecast: pl.Series, actual: pl.Series) -> tuple[float | None, float | None]:
    total = float(actual.sum())
    if total <= 0:
        return None, None
    return float((forecast - actual).sum()) / total, float((forecast - actual).abs().sum()) / total


def fva_summary(orders: pl.DataFrame) -> pl.DataFrame:
    """Per forecaster: orders, bias, WAPE, FVA vs the weekday mean (and the buyer's vs the model)."""
    schema = {"forecaster": pl.String, "orders": pl.Int64, "bias": pl.Float64, "wape": pl.Float64, "fva_vs_weekday_mean": pl.Float64,
              "fva_vs_model": pl.Float64}
    ok = orders.drop_nulls(["forecast", "baseline", "actual"]) if orders.height else orders
    if ok.is_empty():
        return pl.DataFrame(schema=schema)
    stats = {name: _stats(ok[col], ok["actual"]) for name, col in (("model", "forecast"), ("weekday mean", "baseline"), ("buyer", "buyer"))}
    base, model = stats["weekday mean"][1], stats["model"][1]

    def fva(w, ref):
        return None if w is None or not ref else 1.0 - w / ref

    rows = [(name, ok.height, b, w, fva(w, base), fva(w, model) if name == "buyer" else None) for name, (b, w) in stats.items()]
    return pl.DataFrame(rows, schema=schema, orient="row")
