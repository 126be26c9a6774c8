"""Model-ready daily frames: one row per (store, product, day) with features known at 22:00.

Every feature on day t uses only what is known at the order time (22:00 of day t): that day's
closed sales and visits, earlier days, the oil price of day t, and the calendar (which is known
in advance, so calendar facts of the target day are allowed). The target is Qty on day
t + LeadTime. ``tests/test_features.py`` proves the no-look-ahead rule by changing the future.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import numpy as np
import polars as pl

from engine.data.calendar import is_closed_expr, is_payday_expr
from engine.data.dataset import Dataset
from engine.data.memo import dataset_memo

SERIES = ["Store_ID", "Product_ID"]
FEATURE_COLUMNS = [
    "weekday", "dow_mean_qty", "customers", "city_customers", "state_customers",
    "oil", "oil_change_7d", "oil_band", "ma7", "diff_1", "diff_7",
    "is_holiday", "is_closed", "is_payday",
    "target_weekday", "target_is_holiday", "target_is_closed", "target_is_payday",
]
OIL_BANDS = ("low", "mid", "high")


def _ids(values: int | Iterable[int] | None) -> list[int] | None:
    if values is None:
        return None
    return [int(values)] if isinstance(values, (int, np.integer)) else [int(v) for v in values]


def expanding_band(values: np.ndarray) -> np.ndarray:
    """0/1/2 = below the 1st tertile, between, above the 2nd tertile of the values seen so far.

    The tertiles are numpy's default (linear) quantiles of a sorted list kept with ``bisect``, so each
    day costs a binary insert instead of a fresh ``np.quantile`` over the whole past."""
    out = np.full(len(values), np.nan)
    seen: list[float] = []

    def tertile(q: float) -> float:
        pos = q * (len(seen) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(seen) - 1)
        return seen[lo] + (seen[hi] - seen[lo]) * (pos - lo)

    for i, v in enumerate(values):
        if np.isnan(v):
            continue
        bisect.insort(seen, float(v))
        lo, hi = tertile(1 / 3), tertile(2 / 3)
        out[i] = 0 if v < lo else (2 if v > hi else 1)
    return out


def oil_features(ds: Dataset) -> pl.DataFrame:
    """Date, oil, oil_change_7d, oil_band (bands from past prices only); built once per Dataset object."""
    memo = dataset_memo(ds)
    if "oil_features" not in memo:
        memo["oil_features"] = _oil_features(ds)
    return memo["oil_features"]


def _oil_features(ds: Dataset) -> pl.DataFrame:
    oil = ds.oil_price.sort("Date")
    band = expanding_band(oil["WTI_Price"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    return oil.select(
        "Date",
        pl.col("WTI_Price").alias("oil"),
        (pl.col("WTI_Price") - pl.col("WTI_Price").shift(7)).alias("oil_change_7d"),
        pl.Series("oil_band", band).cast(pl.Int8, strict=False),
    )


def customer_features(ds: Dataset) -> pl.DataFrame:
    """Store_ID, Date, customers, city_customers, state_customers (other stores of the same City / State);
    built once per Dataset object."""
    memo = dataset_memo(ds)
    if "customer_features" not in memo:
        memo["customer_features"] = _customer_features(ds)
    return memo["customer_features"]


def _customer_features(ds: Dataset) -> pl.DataFrame:
    days = pl.DataFrame({"Date": pl.date_range(ds.start, ds.end, "1d", eager=True)})
    stores = ds.stores.select("Store_ID", "City", "State")
    all_ids = pl.concat([ds.sales.select("Store_ID"), ds.visits.select("Store_ID"), stores.select("Store_ID")]).unique()
    grid = all_ids.join(days, how="cross").join(
        ds.visits.select("Store_ID", "Date", pl.col("CustomerCount").alias("customers")), on=["Store_ID", "Date"], how="left"
    ).with_columns(pl.col("customers").fill_null(0.0)).join(stores, on="Store_ID", how="left")
    return grid.with_columns(
        pl.when(pl.col("City").is_not_null()).then(pl.col("customers").sum().over(["City", "State", "Date"]) - pl.col("customers")).otherwise(0.0).alias("city_customers"),
        pl.when(pl.col("State").is_not_null()).then(pl.col("customers").sum().over(["State", "Date"]) - pl.col("customers")).otherwise(0.0).alias("state_customers"),
    ).select("Store_ID", "Date", "customers", "city_customers", "state_customers")


def daily_sales(ds: Dataset, stores: int | Iterable[int] | None = None, products: int | Iterable[int] | None = None) -> pl.DataFrame:
    """Store_ID, Product_ID, Date, Qty for every day of the data; days with no sales row are 0."""
    pairs = ds.sales.select(SERIES).unique()
    if (s := _ids(stores)) is not None:
        pairs = pairs.filter(pl.col("Store_ID").is_in(s))
    if (p := _ids(products)) is not None:
        pairs = pairs.filter(pl.col("Product_ID").is_in(p))
    days = pl.DataFrame({"Date": pl.date_range(ds.start, ds.end, "1d", eager=True)})
    return (
        pairs.join(days, how="cross")
        .join(ds.sales.select(*SERIES, "Date", "Qty"), on=[*SERIES, "Date"], how="left")
        .with_columns(pl.col("Qty").cast(pl.Float64).fill_null(0.0))
        .sort(*SERIES, "Date")
    )


def to_long(frame: pl.DataFrame, value: str = "Qty") -> pl.DataFrame:
    """statsforecast-style long format: unique_id ("store/product"), ds, y."""
    return frame.select(
        pl.format("{}/{}", "Store_ID", "Product_ID").alias("unique_id"), pl.col("Date").alias("ds"), pl.col(value).cast(pl.Float64).alias("y")
    )


def build_features(
    ds: Dataset,
    stores: int | Iterable[int] | None = None,
    products: int | Iterable[int] | None = None,
    lead_time: int | None = None,
) -> pl.DataFrame:
    """Feature frame for the chosen series (all when None). ``lead_time`` overrides the products table."""
    base = daily_sales(ds, stores, products)
    holidays = ds.holidays.select("Date", pl.lit(True).alias("is_holiday"))
    lead = ds.products.select("Product_ID", pl.col("LeadTime").alias("lead_time"))
    frame = (
        base.join(lead, on="Product_ID", how="left")
        .with_columns(pl.lit(lead_time, dtype=pl.Int32).alias("lead_time") if lead_time else pl.col("lead_time").cast(pl.Int32))
        .join(customer_features(ds), on=["Store_ID", "Date"], how="left")
        .join(oil_features(ds), on="Date", how="left")
        .join(holidays, on="Date", how="left")
        .with_columns(
            (pl.col("Date").dt.weekday() - 1).cast(pl.Int8).alias("weekday"),
            pl.col("is_holiday").fill_null(False),
            pl.col("customers", "city_customers", "state_customers").fill_null(0.0),
            is_payday_expr(pl.col("Date")).alias("is_payday"),
            pl.col("Date").dt.offset_by(pl.format("{}d", "lead_time")).alias("target_date"),
        )
        .with_columns(
            (is_closed_expr(pl.col("Date")) | (pl.col("customers") <= 0)).alias("is_closed"),
            (pl.col("target_date").dt.weekday() - 1).cast(pl.Int8).alias("target_weekday"),
            is_closed_expr(pl.col("target_date")).alias("target_is_closed"),
            is_payday_expr(pl.col("target_date")).alias("target_is_payday"),
            pl.col("target_date").is_in(ds.holidays["Date"].implode()).alias("target_is_holiday"),
        )
        .sort(*SERIES, "Date")
    )
    g = SERIES
    frame = frame.with_columns(
        (pl.col("Qty").cum_sum().over([*g, "weekday"]) / pl.col("Qty").cum_count().over([*g, "weekday"])).alias("dow_mean_qty"),
        pl.col("Qty").rolling_mean(7, min_samples=1).over(g).alias("ma7"),
        (pl.col("Qty") - pl.col("Qty").shift(1)).over(g).alias("diff_1"),
        (pl.col("Qty") - pl.col("Qty").shift(7)).over(g).alias("diff_7"),
        # target: Qty on day t + lead_time (null where that day is past the data)
        pl.col("Qty").shift(-pl.col("lead_time").first()).over(g).alias("target"),
    )
    return frame.select(
        pl.format("{}/{}", "Store_ID", "Product_ID").alias("unique_id"),
        "Date", *SERIES, "Qty", *FEATURE_COLUMNS, "lead_time", "target_date", "target",
    )
