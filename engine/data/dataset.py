"""The loaded, validated data set: five typed tables plus a daily oil price and holidays."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.data.calendar import holiday_table
from engine.data.problems import DataValidationError, Problem, ValidationReport
from engine.data.readers import find_table_file
from engine.data.schema import TABLES
from engine.data.validation import ROW, read_folder


@dataclass(frozen=True)
class Dataset:
    sales: pl.DataFrame  # Date, Store_ID, Product_ID, Qty (only rows in the files)
    products: pl.DataFrame  # Product_ID, Product_Code, SubCategory, Category, LeadTime, Price
    stores: pl.DataFrame  # Store_ID, City, State, Store_Type
    visits: pl.DataFrame  # customer visits (the orders file): Date, Store_ID, CustomerCount
    oil_price: pl.DataFrame  # Date (every day), WTI_Price (forward-filled), WTI_Filled
    holidays: pl.DataFrame  # Date, Holiday
    folder: str = ""
    fingerprint: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def start(self) -> dt.date:
        return self.sales["Date"].min()

    @property
    def end(self) -> dt.date:
        return self.sales["Date"].max()

    @property
    def store_ids(self) -> list[int]:
        return self.sales["Store_ID"].unique().sort().to_list()

    @property
    def product_ids(self) -> list[int]:
        return self.sales["Product_ID"].unique().sort().to_list()

    def product(self, product_id: int) -> dict:
        rows = self.products.filter(pl.col("Product_ID") == product_id)
        if rows.height == 0:
            raise KeyError(f"product {product_id} is not in the products table")
        return rows.row(0, named=True)

    def lead_time(self, product_id: int) -> int:
        return int(self.product(product_id)["LeadTime"])

    def price(self, product_id: int) -> float:
        return float(self.product(product_id)["Price"])

    def store(self, store_id: int) -> dict:
        rows = self.stores.filter(pl.col("Store_ID") == store_id)
        return rows.row(0, named=True) if rows.height else {"Store_ID": store_id, "City": None, "State": None, "Store_Type": None}


def fingerprint_folder(folder: str | Path) -> str:
    """sha256 over the five (and optional holidays) files' names and bytes."""
    h = hashlib.sha256()
    for name in list(TABLES) + ["holidays"]:
        path = find_table_file(Path(folder), name)
        if path is None:
            continue
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _daily_oil(oil: pl.DataFrame, start: dt.date, end: dt.date, report: ValidationReport, label: str) -> pl.DataFrame:
    """One row per day from start to end; gaps take the last known price (never a later one)."""
    oil = oil.drop_nulls("Date").sort("Date")
    first = min(start, oil["Date"].min()) if oil.height else start
    last = max(end, oil["Date"].max()) if oil.height else end
    days = pl.DataFrame({"Date": pl.date_range(first, last, "1d", eager=True)})
    daily = days.join(oil.select("Date", "WTI_Price"), on="Date", how="left")
    daily = daily.with_columns(pl.col("WTI_Price").is_null().alias("WTI_Filled")).with_columns(pl.col("WTI_Price").forward_fill())
    filled = int(daily.filter(pl.col("WTI_Filled") & pl.col("WTI_Price").is_not_null()).height)
    empty_cells = int(oil["WTI_Price"].is_null().sum())
    if filled:
        report.add(
            Problem(label, f"{filled:,} days had no oil price ({empty_cells:,} empty cells, the rest weekends or missing dates) and were given the last known price.",
                    column="WTI_Price", level="warning")
        )
    leading = int(daily["WTI_Price"].is_null().sum())
    if leading:
        report.add(Problem(label, f"the first {leading} day(s) come before the first oil price and have no oil value.", column="WTI_Price", level="warning"))
    return daily.filter(pl.col("Date").is_between(start, end))


def read_dataset(folder: str | Path) -> tuple[Dataset | None, ValidationReport]:
    """Validate ``folder`` and build the Dataset. Never raises on bad data: see the report."""
    typed, report = read_folder(folder)
    if not report.ok:
        return None, report
    tables = {n: f.drop(ROW) for n, f in typed.items()}
    sales = tables["sales"].with_columns(pl.col("Store_ID", "Product_ID").cast(pl.Int32)).sort("Store_ID", "Product_ID", "Date")
    if sales.height == 0:
        report.add(Problem(report_label(folder, "sales"), "the file has no data rows; add at least one day of sales."))
        return None, report
    start, end = sales["Date"].min(), sales["Date"].max()
    products = tables["products"].with_columns(pl.col("Product_ID").cast(pl.Int32), pl.col("LeadTime").cast(pl.Int32)).sort("Product_ID")
    stores = tables["stores"].with_columns(pl.col("Store_ID").cast(pl.Int32)).sort("Store_ID")
    visits = tables["orders"].with_columns(pl.col("Store_ID").cast(pl.Int32)).sort("Store_ID", "Date")
    oil = _daily_oil(tables["oil_price"], start, end, report, report_label(folder, "oil_price"))
    holidays = holiday_table(start, end, tables.get("holidays"))
    report.summary = {
        "start": str(start),
        "end": str(end),
        "days": (end - start).days + 1,
        "stores": sales["Store_ID"].n_unique(),
        "products": sales["Product_ID"].n_unique(),
        "sales_rows": sales.height,
        "total_qty": float(sales["Qty"].sum()),
    }
    ds = Dataset(
        sales=sales,
        products=products,
        stores=stores,
        visits=visits,
        oil_price=oil,
        holidays=holidays,
        folder=str(folder),
        fingerprint=fingerprint_folder(folder),
        warnings=tuple(report.warning_sentences()),
    )
    return ds, report


def report_label(folder: str | Path, name: str) -> str:
    path = find_table_file(Path(folder), name)
    return path.name if path else f"{name}.csv"


def load_dataset(folder: str | Path) -> Dataset:
    """Like ``read_dataset`` but raises ``DataValidationError`` (with every sentence) on errors."""
    ds, report = read_dataset(folder)
    if ds is None:
        raise DataValidationError(report)
    return ds


def store_products(ds, store: int, products=None) -> list[int]:
    """The chosen products of a store (all it sold when ``products`` is None); a sentence when none."""
    sold = ds.sales.filter(pl.col("Store_ID") == int(store))
    if sold.height == 0:
        raise ValueError(f"store {store} has no sales; pick one of the stores in the sales table.")
    if products is None:
        return sorted(sold["Product_ID"].unique().to_list())
    out = [int(p) for p in products]
    if not out:
        raise ValueError("no product was chosen; pick at least one.")
    return out
