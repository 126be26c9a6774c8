"""Chain-level summaries for the Home page: period, size, sales trend, top stores and products."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import polars as pl

from engine.data.dataset import Dataset


@dataclass(frozen=True)
class Overview:
    start: dt.date
    end: dt.date
    days: int
    stores: int
    products: int
    units: float
    sales_value: float
    units_per_day: float
    change_vs_previous_pct: float | None  # units per day vs the same-length period just before
    warnings: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = str(self.start), str(self.end)
        return d


def _window(ds: Dataset, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    start = max(start or ds.start, ds.start)
    end = min(end or ds.end, ds.end)
    if start > end:
        raise ValueError(f"the start date {start} is after the end date {end}; pick a start on or before the end.")
    return start, end


def _valued(ds: Dataset) -> pl.DataFrame:
    return ds.sales.join(ds.products.select("Product_ID", "Price"), on="Product_ID", how="left").with_columns(
        (pl.col("Qty") * pl.col("Price").fill_null(0.0)).alias("Value")
    )


def overview(ds: Dataset, start: dt.date | None = None, end: dt.date | None = None) -> Overview:
    start, end = _window(ds, start, end)
    sales = _valued(ds)
    inside = sales.filter(pl.col("Date").is_between(start, end))
    days = (end - start).days + 1
    prev_end = start - dt.timedelta(days=1)
    prev_start = prev_end - dt.timedelta(days=days - 1)
    change = None
    if prev_start >= ds.start:
        prev_units = sales.filter(pl.col("Date").is_between(prev_start, prev_end))["Qty"].sum()
        if prev_units:
            change = round(100.0 * (float(inside["Qty"].sum()) / float(prev_units) - 1.0), 2)
    units = float(inside["Qty"].sum())
    return Overview(
        start=start,
        end=end,
        days=days,
        stores=inside["Store_ID"].n_unique(),
        products=inside["Product_ID"].n_unique(),
        units=units,
        sales_value=round(float(inside["Value"].sum()), 2),
        units_per_day=round(units / days, 2),
        change_vs_previous_pct=change,
        warnings=len(ds.warnings),
    )


def sales_trend(ds: Dataset, start: dt.date | None = None, end: dt.date | None = None, every: str = "1w") -> pl.DataFrame:
    """Date (period start), Days, Qty, Value, Qty_per_day over the chain per period ("1d", "1w", "1mo").

    Qty_per_day makes a partial first or last week comparable with full ones.
    """
    start, end = _window(ds, start, end)
    daily = (
        pl.DataFrame({"Date": pl.date_range(start, end, "1d", eager=True)})
        .join(_valued(ds).filter(pl.col("Date").is_between(start, end)).group_by("Date").agg(pl.col("Qty").sum(), pl.col("Value").sum()), on="Date", how="left")
        .fill_null(0.0)
    )
    return (
        daily.group_by_dynamic("Date", every=every)
        .agg(pl.len().alias("Days"), pl.col("Qty").sum(), pl.col("Value").sum().round(2))
        .with_columns((pl.col("Qty") / pl.col("Days")).round(1).alias("Qty_per_day"))
    )


def top_stores(ds: Dataset, start: dt.date | None = None, end: dt.date | None = None, n: int = 10) -> pl.DataFrame:
    start, end = _window(ds, start, end)
    return (
        _valued(ds)
        .filter(pl.col("Date").is_between(start, end))
        .group_by("Store_ID")
        .agg(pl.col("Qty").sum(), pl.col("Value").sum().round(2))
        .join(ds.stores, on="Store_ID", how="left")
        .sort("Value", "Store_ID", descending=[True, False])
        .head(n)
        .select("Store_ID", "City", "State", "Store_Type", "Qty", "Value")
    )


def top_products(ds: Dataset, start: dt.date | None = None, end: dt.date | None = None, n: int = 10) -> pl.DataFrame:
    start, end = _window(ds, start, end)
    return (
        _valued(ds)
        .filter(pl.col("Date").is_between(start, end))
        .group_by("Product_ID")
        .agg(pl.col("Qty").sum(), pl.col("Value").sum().round(2))
        .join(ds.products.select("Product_ID", "SubCategory", "Category", "LeadTime", "Price"), on="Product_ID", how="left")
        .sort("Value", "Product_ID", descending=[True, False])
        .head(n)
        .select("Product_ID", "SubCategory", "Category", "LeadTime", "Price", "Qty", "Value")
    )
