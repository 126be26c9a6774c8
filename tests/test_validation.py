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


# --- bad numbers cannot poison totals or models -------------------------------------------------

NOT_ADDABLE = "is not a number that can be added up (NaN or infinity); enter the real value"


def test_nan_and_infinity_are_errors_in_every_numeric_column_at_once(tmp_path):
    found = errors(
        tmp_path,
        sales=GOOD["sales.csv"] + "2017-01-05,44,NaN,3\n2017-01-06,44,inf,3\n2017-01-07,nan,1,3\n",
        orders=GOOD["orders.csv"] + "2017-01-05,44,-inf\n",
        products=GOOD["products.csv"] + "42,KM-42,SNACKS,Grocery,2,Infinity\n",
        oil_price=GOOD["oil_price.csv"] + "2017-01-05,NaN\n",
    )
    assert sorted(found) == sorted([
        f"sales.csv, row 6, column Qty: 'NaN' {NOT_ADDABLE}.",
        f"sales.csv, row 7, column Qty: 'inf' {NOT_ADDABLE}.",
        f"sales.csv, row 8, column Store_ID: 'nan' {NOT_ADDABLE}.",
        f"orders.csv, row 6, column CustomerCount: '-inf' {NOT_ADDABLE}.",
        f"products.csv, row 4, column Price: 'Infinity' {NOT_ADDABLE}.",
        f"oil_price.csv, row 5, column WTI_Price: 'NaN' {NOT_ADDABLE} (or leave the cell empty where there was none).",
    ])


def test_numbers_beyond_any_real_value_are_errors(tmp_path):
    found = errors(tmp_path, sales=GOOD["sales.csv"] + "2017-01-05,44,1e308,3\n2017-01-06,44,1e400,3\n",
                   stores=GOOD["stores.csv"] + "1e20,Boston,MA,A\n")
    assert sorted(found) == sorted([
        "sales.csv, row 6, column Qty: '1e308' is larger than any real value here (over 1,000,000,000); check the cell for a typo.",
        f"sales.csv, row 7, column Qty: '1e400' {NOT_ADDABLE}.",  # 1e400 overflows to infinity
        "stores.csv, row 4, column Store_ID: '1e20' is too long for an identifier; use at most 15 digits.",
    ])


def test_nan_in_a_parquet_float_column_is_an_error(tmp_path):
    folder = write_folder(tmp_path / "d", sales=None)
    import datetime as dt

    pl.DataFrame({
        "Date": [dt.date(2017, 1, 2), dt.date(2017, 1, 3)], "Store_ID": [44, 44],
        "Qty": [3.0, float("nan")], "Product_ID": [3, 3],
    }).write_parquet(folder / "sales.parquet")
    ds, report = read_dataset(folder)
    assert ds is None and report.error_sentences() == [f"sales.parquet, row 2, column Qty: 'nan' {NOT_ADDABLE}."]


def _series_rows(values, store=44, product=3, start_day=1):
    return "".join(f"2017-02-{start_day + i:02d},{store},{v},{product}\n" for i, v in enumerate(values))


def test_a_quantity_far_outside_its_own_series_is_a_warning_with_its_row(tmp_path):
    import numpy as np

    usual = [10, 12, 9, 14, 11, 13, 8, 10, 12, 15]
    typo = 15000  # an extra "000": 1,000x the series' high
    folder = write_folder(tmp_path / "d", sales=GOOD["sales.csv"] + _series_rows(usual + [typo]))
    ds, report = read_dataset(folder)
    assert report.ok and ds is not None  # a warning: the data is still usable
    series = [10, 7] + usual + [typo]  # store 44 x product 3: its two GOOD rows and the new ones (store 45 is its own series)
    p99 = float(np.quantile(series, 0.99, method="lower"))
    assert p99 == 15.0
    row = 5 + len(usual) + 1  # header + 4 GOOD rows + the usual rows, then the typo
    warned = [w for w in report.warning_sentences() if "times the usual high" in w]
    assert warned == [
        f"sales.csv, row {row}, column Qty: 15,000 is more than 50 times the usual high of store 44, product 3 "
        f"(15, its 99th percentile); check the cell for a typo (the value is used as it is)."
    ]


def test_a_high_but_plausible_quantity_is_not_flagged(tmp_path):
    usual = [10, 12, 9, 14, 11, 13, 8, 10, 12, 15]
    folder = write_folder(tmp_path / "d", sales=GOOD["sales.csv"] + _series_rows(usual + [700]))  # 46x the high of 15
    ds, report = read_dataset(folder)
    assert report.ok and not [w for w in report.warning_sentences() if "times the usual high" in w]


def test_customers_oil_and_price_outliers_are_warnings_with_their_rows(tmp_path):
    orders = GOOD["orders.csv"] + "".join(f"2017-01-{d:02d},44,{95 + d}\n" for d in range(5, 15)) + "2017-01-15,44,99000\n"
    oil = GOOD["oil_price.csv"] + "".join(f"2017-01-{d:02d},{50 + d / 10}\n" for d in range(5, 15)) + "2017-01-15,5210\n"
    products = GOOD["products.csv"] + "42,KM-42,SNACKS,Grocery,2,3.49\n43,KM-43,SNACKS,Grocery,2,1899\n"
    ds, report = read_dataset(write_folder(tmp_path / "d", orders=orders, oil_price=oil, products=products))
    assert report.ok
    warned = {w.split(":")[0]: w for w in report.warning_sentences() if "times the usual high" in w}
    assert set(warned) == {"orders.csv, row 16, column CustomerCount", "oil_price.csv, row 15, column WTI_Price",
                           "products.csv, row 5, column Price"}
    # the sentence names the series and its 99th percentile ("lower": the second largest of these short series)
    import numpy as np

    def p99(values):
        return f"{float(np.quantile(values, 0.99, method='lower')):,.10g}"

    visits = [100, 90] + [95 + d for d in range(5, 15)] + [99000]  # store 44's rows
    oil_values = [52.1, 53.0] + [50 + d / 10 for d in range(5, 15)] + [5210]  # the empty cell is not a value
    assert f"99,000 is more than 10 times the usual high of store 44's customer counts ({p99(visits)}, its 99th percentile)" in warned["orders.csv, row 16, column CustomerCount"]
    assert f"5,210 is more than 10 times the usual high of the oil price series ({p99(oil_values)}, its 99th percentile)" in warned["oil_price.csv, row 15, column WTI_Price"]
    assert f"1,899 is more than 50 times the usual high of all product prices ({p99([1.89, 2.19, 3.49, 1899])}, its 99th percentile)" in warned["products.csv, row 5, column Price"]


def test_the_demo_chain_has_no_outlier_warnings(demo):
    assert not [w for w in demo.warnings if "times the usual high" in w]


def test_a_products_file_with_an_unknown_separator_is_one_sentence(tmp_path, capsys):
    from engine.cli import main

    folder = write_folder(tmp_path / "d", products=GOOD["products.csv"].replace(",", "#"))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [
        "- products.csv, row 1: the header row 'Product_ID#Product_Code#SubCategory#Category#LeadTime#Price' reads as one "
        "column because the columns are separated by '#'; separate them with commas (or tabs or semicolons) and upload the file again."
    ]


def test_a_missing_id_column_does_not_break_the_cross_checks(tmp_path):
    found = errors(tmp_path, products=GOOD["products.csv"].replace("Product_ID", "ID"))
    assert found == ["products.csv, row 1, column Product_ID: the column is missing; add a column named Product_ID to the header "
                     "(columns found: ID, Product_Code, SubCategory, Category, LeadTime, Price)."]
