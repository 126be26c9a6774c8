"""Import the Kaggle store-sales (Corporación Favorita) files into the five tables.

train.csv (id, date, store_nbr, family, sales, onpromotion) -> sales
transactions.csv (date, store_nbr, transactions)            -> orders (CustomerCount)
oil.csv (date, dcoilwtico)                                   -> oil_price
stores.csv (store_nbr, city, state, type, cluster)           -> stores
holidays_events.csv (optional; national, not transferred)    -> holidays
Product_ID is the 0-based alphabetical index of ``family``. Products get LeadTime and Price
defaults that the user edits in products.csv afterwards.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.readers import normalise_header, sniff_separator

NEEDED = {
    "train.csv": ("date", "store_nbr", "family", "sales"),
    "transactions.csv": ("date", "store_nbr", "transactions"),
    "oil.csv": ("date", "dcoilwtico"),
    "stores.csv": ("store_nbr", "city", "state", "type"),
}
CATEGORY = {  # coarse groups for the families
    "GROCERY": "Grocery", "BEVERAGES": "Grocery", "FROZEN": "Grocery", "SNACK": "Grocery",
    "BREAD": "Fresh", "DAIRY": "Fresh", "DELI": "Fresh", "EGGS": "Fresh", "MEATS": "Fresh", "POULTRY": "Fresh",
    "PREPARED": "Fresh", "PRODUCE": "Fresh", "SEAFOOD": "Fresh",
    "CLEANING": "Household", "HOME": "Household", "PET": "Household", "LAWN": "Household",
    "BEAUTY": "Personal Care", "BABY": "Personal Care", "PERSONAL": "Personal Care", "LINGERIE": "Apparel",
    "LADIESWEAR": "Apparel", "LIQUOR": "Beverages", "AUTOMOTIVE": "Hardlines", "HARDWARE": "Hardlines",
    "PLAYERS": "Hardlines", "SCHOOL": "Hardlines", "BOOKS": "Media", "MAGAZINES": "Media", "CELEBRATION": "Seasonal",
}


class FavoritaImportError(ValueError):
    """An import problem, as one sentence."""


def _read(src: Path, name: str, optional: bool = False) -> pl.DataFrame | None:
    path = src / name
    if not path.exists():
        if optional:
            return None
        raise FavoritaImportError(f"{name} is missing from {src}; put the Kaggle store-sales files (train.csv, transactions.csv, oil.csv, stores.csv) there.")
    frame = pl.read_csv(path, separator=sniff_separator(path), infer_schema=False, encoding="utf8-lossy")
    frame = frame.rename({c: normalise_header(c) for c in frame.columns})
    frame = frame.with_columns(pl.col(pl.String).str.strip_chars())
    missing = [c for c in NEEDED.get(name, ()) if normalise_header(c) not in frame.columns]
    if missing:
        raise FavoritaImportError(f"{name}, row 1: column(s) {', '.join(missing)} are missing; use the original Kaggle file with its header.")
    return frame


def _category(family: str) -> str:
    first = family.replace(",", " ").replace("/", " ").split()[0] if family else ""
    return CATEGORY.get(first, "Other")


def import_favorita(src: str | Path, dest: str | Path, lead_time: int = 2, price: float = 1.0) -> dict:
    """Write sales/products/stores/orders/oil_price (+ holidays) CSVs into ``dest``. Returns row counts and notes."""
    src, dest = Path(src), Path(dest)
    train = _read(src, "train.csv")
    transactions = _read(src, "transactions.csv")
    oil = _read(src, "oil.csv")
    stores = _read(src, "stores.csv")
    holidays = _read(src, "holidays_events.csv", optional=True)

    families = sorted(train["family"].drop_nulls().unique().to_list())
    family_id = pl.DataFrame({"family": families, "Product_ID": list(range(len(families)))})
    sales = (
        train.join(family_id, on="family", how="left")
        .select(
            pl.col("date").alias("Date"),
            pl.col("storenbr").alias("Store_ID"),
            pl.col("sales").alias("Qty"),
            pl.col("Product_ID"),
        )
    )
    products = pl.DataFrame(
        {
            "Product_ID": list(range(len(families))),
            "Product_Code": [f"FAV-{i:02d}" for i in range(len(families))],
            "SubCategory": families,
            "Category": [_category(f) for f in families],
            "LeadTime": [lead_time] * len(families),
            "Price": [price] * len(families),
        }
    )
    tables = {
        "sales": sales,
        "products": products,
        "stores": stores.select(pl.col("storenbr").alias("Store_ID"), pl.col("city").alias("City"), pl.col("state").alias("State"), pl.col("type").alias("Store_Type")),
        "orders": transactions.select(pl.col("date").alias("Date"), pl.col("storenbr").alias("Store_ID"), pl.col("transactions").alias("CustomerCount")),
        "oil_price": oil.select(pl.col("date").alias("Date"), pl.col("dcoilwtico").alias("WTI_Price")),
    }
    notes = [f"{len(families)} families became products 0..{len(families) - 1}; every product got LeadTime {lead_time} and Price {price}: edit products.csv."]
    if holidays is not None and {"date", "description"} <= set(holidays.columns):
        national = holidays
        if "locale" in holidays.columns:
            national = national.filter(pl.col("locale").str.to_lowercase() == "national")
        if "transferred" in holidays.columns:
            national = national.filter(pl.col("transferred").str.to_lowercase() != "true")
        tables["holidays"] = national.select(pl.col("date").alias("Date"), pl.col("description").alias("Holiday")).unique("Date", keep="first").sort("Date")
        notes.append(f"{tables['holidays'].height} national holidays (not transferred) became holidays.csv; it replaces the built-in US calendar.")
    dest.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        tmp = dest / f"{name}.csv.tmp"
        frame.write_csv(tmp)
        tmp.replace(dest / f"{name}.csv")
    return {"dest": str(dest), "rows": {n: f.height for n, f in tables.items()}, "notes": notes}
