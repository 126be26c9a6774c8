"""The daily series the Explore page studies: one (store, product) or a store's total, in a window."""

from __future__ import annotations

import datetime as dt

import polars as pl

from engine.data.dataset import Dataset


def window(ds: Dataset, start: dt.date | None = None, end: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(start, end) clipped to the data; a clear error when start is after end."""
    start = max(start or ds.start, ds.start)
    end = min(end or ds.end, ds.end)
    if start > end:
        raise ValueError(f"the start date {start} is after the end date {end}; pick a start on or before the end.")
    return start, end


def series_label(ds: Dataset, store: int, product: int | None) -> str:
    what = "all products" if product is None else f"product {product}"
    return f"store {store}, {what}"


def daily_series(ds: Dataset, store: int, product: int | None = None,
                 start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
    """Date, Qty for every day of the window (missing day = 0 sold); ``product=None`` = the store's total."""
    if store not in ds.store_ids:
        raise ValueError(f"store {store} has no sales in the data; pick one of the stores in the list.")
    if product is not None and product not in ds.product_ids:
        raise ValueError(f"product {product} has no sales in the data; pick one of the products in the list.")
    start, end = window(ds, start, end)
    sales = ds.sales.filter((pl.col("Store_ID") == store) & pl.col("Date").is_between(start, end))
    if product is not None:
        sales = sales.filter(pl.col("Product_ID") == product)
    days = pl.DataFrame({"Date": pl.date_range(start, end, "1d", eager=True)})
    totals = sales.group_by("Date").agg(pl.col("Qty").cast(pl.Float64).sum())
    return days.join(totals, on="Date", how="left").with_columns(pl.col("Qty").fill_null(0.0)).sort("Date")


def describe_series(series: pl.DataFrame, start: dt.date, end: dt.date, label: str) -> str:
    """One plain line about the series in the window: level, spread, days without sales, year-on-year change."""
    inside = series.filter(pl.col("Date").is_between(start, end))
    if inside.height == 0:
        return f"{label[0].upper() + label[1:]} has no days between {start} and {end}."
    mean = float(inside["Qty"].mean())
    cv = float(inside["Qty"].std() / mean) if mean and inside.height > 1 else float("nan")
    zero = inside.filter(pl.col("Qty") == 0)
    christmas = zero.filter((pl.col("Date").dt.month() == 12) & (pl.col("Date").dt.day() == 25)).height
    text = f"{label[0].upper() + label[1:]} sells {mean:,.0f} units a day on average from {start} to {end}"
    text += f" (day-to-day spread {cv:.0%} of the mean)" if cv == cv else ""
    if zero.height:
        text += f"; {zero.height} day(s) without sales" + (f", {christmas} of them Dec 25 (closed)" if christmas else "")
    last = series.filter(pl.col("Date").is_between(end - dt.timedelta(days=364), end))["Qty"]
    before = series.filter(pl.col("Date").is_between(end - dt.timedelta(days=729), end - dt.timedelta(days=365)))["Qty"]
    if (end - start).days >= 729 and before.len() == 365 and before.sum() > 0:
        text += f"; the last 12 months sold {last.sum() / before.sum() - 1:+.1%} against the 12 months before"
    return text + "."
