"""Validation: every problem of a folder at once, one sentence each, naming file, row, column."""

import polars as pl
import pytest

from engine.data.dataset import load_dataset, read_dataset
from engine.data.problems import DataValidationError
from tests.helpers import GOOD, write_folder


def errors(tmp_path, **overrides):
    ds, report = read_dataset(write_folder(tmp_path / "d", **overrides))
    assert ds is None
    return report.error_sentences()


def test_good_folder_loads_with_types_and_summary(tmp_path):
    ds, report = read_dataset(write_folder(tmp_path / "d"))
    assert report.ok and ds is not None
    assert ds.sales.schema["Qty"] == pl.Float64 and ds.sales.schema["Date"] == pl.Date
    assert report.summary["sales_rows"] == 4 and report.summary["total_qty"] == 24.0
    assert ds.lead_time(3) == 2 and ds.price(12) == 2.19
    # the oil gap on 2017-01-03 takes the previous price, and a warning says so
    assert ds.oil_price.filter(pl.col("Date") == pl.date(2017, 1, 3))["WTI_Price"].item() == 52.1
    assert any("1 days had no oil price (1 empty cells" in w for w in report.warning_sentences())


def test_missing_file(tmp_path):
    found = errors(tmp_path, products=None)
    assert found[0] == (
        f"products.csv: the file is missing from {tmp_path / 'd'}; add products.csv or products.parquet with columns "
        "Product_ID, Product_Code, SubCategory, Category, LeadTime, Price."
    )
    assert len(found) == 1  # no follow-on noise about products unknown to a missing table


def test_missing_column_names_what_was_found(tmp_path):
    found = errors(tmp_path, sales="Date,Store_ID,Quantity,Product_ID\n2017-01-02,44,10,3\n")
    assert "sales.csv, row 1, column Qty: the column is missing; add a column named Qty to the header (columns found: Date, Store_ID, Quantity, Product_ID)." in found


def test_unparseable_date(tmp_path):
    found = errors(tmp_path, sales=GOOD["sales.csv"] + "2017-13-45,44,1,3\n")
    assert found == ["sales.csv, row 6, column Date: '2017-13-45' is not a date; write dates as YYYY-MM-DD (for example 2017-03-15)."]


def test_non_numeric_qty(tmp_path):
    found = errors(tmp_path, sales=GOOD["sales.csv"] + "2017-01-05,44,ten,3\n")
    assert found == ["sales.csv, row 6, column Qty: 'ten' is not a number; enter a number without letters or units."]


def test_negative_qty_customer_count_and_price(tmp_path):
    found = errors(
        tmp_path,
        sales=GOOD["sales.csv"] + "2017-01-05,44,-3,3\n",
        orders=GOOD["orders.csv"] + "2017-01-05,44,-1\n",
        products=GOOD["products.csv"] + "42,KM-42,SNACKS,Grocery,2,-4\n",
    )
    assert "sales.csv, row 6, column Qty: '-3' is negative; enter 0 or more (returns and corrections are not supported here)." in found
    assert "orders.csv, row 6, column CustomerCount: '-1' is negative; enter 0 or more (returns and corrections are not supported here)." in found
    assert "products.csv, row 4, column Price: '-4' is negative; enter 0 or more (returns and corrections are not supported here)." in found
    assert len(found) == 3  # all collected at once


@pytest.mark.parametrize("value,expected", [
    ("0", "'0' is not a positive whole number; enter the lead time in whole days (1 or more)."),
    ("1.5", "'1.5' is not a whole number; enter a lead time in whole days of 1 or more."),
    ("two", "'two' is not a whole number; enter a whole number without letters or units."),
])
def test_lead_time_must_be_positive_integer(tmp_path, value, expected):
    found = errors(tmp_path, products=GOOD["products.csv"] + f"42,KM-42,SNACKS,Grocery,{value},3.99\n")
    assert found == [f"products.csv, row 4, column LeadTime: {expected}"]


def test_duplicate_sales_rows_name_both_rows(tmp_path):
    found = errors(tmp_path, sales=GOOD["sales.csv"] + "2017-01-02,44,3,3\n")
    assert found == [
        "sales.csv, row 6, column Date/Store_ID/Product_ID: duplicate of row 2 (Date 2017-01-02, Store_ID 44, Product_ID 3); "
        "keep one row per Date, Store_ID and Product_ID and add the quantities together if both are real."
    ]


def test_product_in_sales_not_in_products(tmp_path):
    found = errors(tmp_path, sales=GOOD["sales.csv"] + "2017-01-05,44,1,99\n2017-01-06,44,2,99\n")
    assert found == [
        "sales.csv, row 6, column Product_ID: product 99 is not in products.csv (2 rows, first here); "
        "add the product (with its LeadTime and Price) to the products file, or remove its sales rows."
    ]


def test_store_missing_from_stores_is_a_warning_not_an_error(tmp_path):
    folder = write_folder(tmp_path / "d", sales=GOOD["sales.csv"] + "2017-01-05,46,1,3\n")
    ds, report = read_dataset(folder)
    assert report.ok and 46 in ds.store_ids
    assert any(w.startswith("sales.csv, row 6, column Store_ID: store 46 is not in stores.csv") for w in report.warning_sentences())


def test_all_errors_of_all_files_are_collected_at_once(tmp_path):
    found = errors(
        tmp_path,
        sales="Date,Store_ID,Qty,Product_ID\n2017-01-02,44,x,3\nnot-a-date,44,1,3\n",
        stores=None,
        oil_price="Date,WTI_Price\n2017-01-02,abc\n",
    )
    assert len(found) == 4
    assert any(s.startswith("stores.csv: the file is missing") for s in found)
    assert any(s.startswith("oil_price.csv, row 2, column WTI_Price: 'abc' is not a number") for s in found)


def test_many_bad_rows_are_listed_then_summed_up(tmp_path):
    rows = "".join(f"2017-02-{d:02d},44,bad,3\n" for d in range(1, 26))
    found = errors(tmp_path, sales=GOOD["sales.csv"] + rows)
    assert len(found) == 11
    assert found[-1] == "sales.csv, column Qty: 15 more rows have the same problem (rows 16, 17, 18, 19, 20, …); fix them the same way."


def test_load_dataset_raises_with_the_report(tmp_path):
    with pytest.raises(DataValidationError) as info:
        load_dataset(write_folder(tmp_path / "d", orders=None))
    assert info.value.report.error_sentences()[0].startswith("orders.csv: the file is missing")


def test_real_file_mess_is_tolerated(tmp_path):
    """BOM, CRLF, tab separators, spaces/tabs around headers and values, odd header case, blank lines, $ prices."""
    sales = "\ufeffDate\t Store_ID \tqty\t Product_ID\r\n2017-01-02\t44\t 10 \t3\r\n\r\n2017-01-03\t44\t7\t3\r\n"
    products = " Product_ID , Product_Code ,SubCategory,Category,Lead Time,Price \r\n3,KM-3,BEVERAGES,Grocery, 2 ,$1.89\r\n"
    folder = write_folder(tmp_path / "d", sales=None, products=products)
    (folder / "sales.tsv").write_bytes(sales.encode("utf-8"))
    ds, report = read_dataset(folder)
    assert report.ok, report.error_sentences()
    assert ds.sales["Qty"].to_list() == [10.0, 7.0]
    assert ds.price(3) == 1.89 and ds.lead_time(3) == 2
    assert "sales.tsv, row 1, column Qty: header 'qty' was read as Qty." in report.warning_sentences()


def test_parquet_files_are_read_too(tmp_path):
    folder = write_folder(tmp_path / "d")
    frame = pl.read_csv(folder / "sales.csv", try_parse_dates=True)
    frame.write_parquet(folder / "sales.parquet")
    (folder / "sales.csv").unlink()
    ds, report = read_dataset(folder)
    assert report.ok and ds.sales.height == 4


def test_unreadable_file_is_one_sentence(tmp_path):
    folder = write_folder(tmp_path / "d")
    (folder / "stores.csv").unlink()
    (folder / "stores.parquet").write_bytes(b"not a parquet file at all")
    found = read_dataset(folder)[1].error_sentences()
    assert len(found) == 1 and found[0].startswith("stores.parquet: the file cannot be read (")
    assert found[0].endswith("save it as Parquet and upload it again.")
