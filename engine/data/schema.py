"""The five input tables: names, exact column names, kinds and rules.

A column kind is one of: "date", "int" (an identifier or count), "number" (float),
"text". Rules are checked by ``engine.data.validation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "date" | "int" | "number" | "text"
    non_negative: bool = False
    positive_int: bool = False
    optional_values: bool = False  # empty cells allowed (e.g. oil prices on holidays)
    meaning: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)
    meaning: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SALES = Table(
    "sales",
    (
        Column("Date", "date", meaning="business day"),
        Column("Store_ID", "int", meaning="store number"),
        Column("Qty", "number", non_negative=True, meaning="units sold that day"),
        Column("Product_ID", "int", meaning="product number"),
    ),
    key=("Date", "Store_ID", "Product_ID"),
    meaning="units sold per store, product and day; a missing row means nothing was sold",
)
PRODUCTS = Table(
    "products",
    (
        Column("Product_ID", "int"),
        Column("Product_Code", "text"),
        Column("SubCategory", "text"),
        Column("Category", "text"),
        Column("LeadTime", "int", positive_int=True, meaning="days from order to arrival"),
        Column("Price", "number", non_negative=True, meaning="selling price per unit"),
    ),
    key=("Product_ID",),
    meaning="product master data",
)
STORES = Table(
    "stores",
    (
        Column("Store_ID", "int"),
        Column("City", "text"),
        Column("State", "text"),
        Column("Store_Type", "text"),
    ),
    key=("Store_ID",),
    meaning="store master data",
)
ORDERS = Table(
    "orders",
    (
        Column("Date", "date"),
        Column("Store_ID", "int"),
        Column("CustomerCount", "number", non_negative=True, meaning="customer visits that day"),
    ),
    key=("Date", "Store_ID"),
    meaning="customer visits (transactions) per store and day",
)
OIL_PRICE = Table(
    "oil_price",
    (
        Column("Date", "date"),
        Column("WTI_Price", "number", optional_values=True, meaning="WTI crude, USD per barrel"),
    ),
    key=("Date",),
    meaning="daily WTI oil price; weekends and holidays have no price",
)

TABLES: dict[str, Table] = {t.name: t for t in (SALES, PRODUCTS, STORES, ORDERS, OIL_PRICE)}

# Optional sixth table: extra holidays (the built-in calendar is used when absent).
HOLIDAYS = Table(
    "holidays",
    (Column("Date", "date"), Column("Holiday", "text")),
    key=("Date",),
    meaning="optional list of holidays",
)

FILE_SUFFIXES = (".csv", ".parquet", ".txt", ".tsv")
