"""Small hand-written data folders for data-layer tests."""

from __future__ import annotations

from pathlib import Path

GOOD = {
    "sales.csv": "Date,Store_ID,Qty,Product_ID\n2017-01-02,44,10,3\n2017-01-02,44,5,12\n2017-01-03,44,7,3\n2017-01-04,45,2,3\n",
    "products.csv": "Product_ID,Product_Code,SubCategory,Category,LeadTime,Price\n3,KM-3,BEVERAGES,Grocery,2,1.89\n12,KM-12,GROCERY I,Grocery,2,2.19\n",
    "stores.csv": "Store_ID,City,State,Store_Type\n44,New York,NY,A\n45,New York,NY,B\n",
    "orders.csv": "Date,Store_ID,CustomerCount\n2017-01-02,44,100\n2017-01-03,44,90\n2017-01-02,45,50\n2017-01-04,45,40\n",
    "oil_price.csv": "Date,WTI_Price\n2017-01-02,52.1\n2017-01-03,\n2017-01-04,53.0\n",
}


def write_folder(folder: Path, **overrides: str | None) -> Path:
    """GOOD tables with some files replaced (name=text) or removed (name=None); keys without '.csv'."""
    folder.mkdir(parents=True, exist_ok=True)
    files = dict(GOOD)
    for name, text in overrides.items():
        files.pop(f"{name}.csv", None)
        if text is not None:
            files[f"{name}.csv"] = text
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return folder
