"""Import of Kaggle store-sales (Favorita) files written here in that format."""

import datetime as dt

import polars as pl
import pytest

from engine.cli import main
from engine.data.dataset import load_dataset
from engine.data.favorita import FavoritaImportError, import_favorita

TRAIN = """id,date,store_nbr,family,sales,onpromotion
0,2017-01-02,44,BEVERAGES,2100.0,5
1,2017-01-02,44,AUTOMOTIVE,3.0,0
2,2017-01-02,44,GROCERY I,9000.5,12
3,2017-01-02,45,BEVERAGES,800.0,0
4,2017-01-03,44,BEVERAGES,0.0,0
5,2017-01-03,44,GROCERY I,8500.0,3
"""
TRANSACTIONS = "date,store_nbr,transactions\r\n2017-01-02,44,4500\r\n2017-01-02,45,1800\r\n2017-01-03,44,4300\r\n"
OIL = "date,dcoilwtico\n2017-01-02,\n2017-01-03,52.36\n"
STORES = "store_nbr,city,state,type,cluster\n44,Quito,Pichincha,A,5\n45,Quito,Pichincha,A,11\n"
HOLIDAYS = """date,type,locale,locale_name,description,transferred
2017-01-02,Transfer,National,Ecuador,Traslado Primer dia del ano,False
2017-01-03,Holiday,Local,Quito,Fundacion de Quito,False
2016-12-26,Additional,National,Ecuador,Navidad+1,True
"""


@pytest.fixture
def kaggle(tmp_path):
    src = tmp_path / "kaggle"
    src.mkdir()
    for name, text in {"train.csv": TRAIN, "transactions.csv": TRANSACTIONS, "oil.csv": OIL, "stores.csv": STORES, "holidays_events.csv": HOLIDAYS}.items():
        (src / name).write_text(text)
    return src


def test_import_maps_families_to_alphabetical_ids(kaggle, tmp_path):
    result = import_favorita(kaggle, tmp_path / "out")
    assert result["rows"] == {"sales": 6, "products": 3, "stores": 2, "orders": 3, "oil_price": 2, "holidays": 1}
    ds = load_dataset(tmp_path / "out")
    assert ds.products.select("Product_ID", "SubCategory").rows() == [(0, "AUTOMOTIVE"), (1, "BEVERAGES"), (2, "GROCERY I")]
    assert ds.products["LeadTime"].to_list() == [2, 2, 2]
    assert ds.sales.filter(pl.col("Store_ID") == 44, pl.col("Product_ID") == 2)["Qty"].to_list() == [9000.5, 8500.0]
    assert ds.visits.filter(pl.col("Store_ID") == 44)["CustomerCount"].to_list() == [4500.0, 4300.0]
    assert ds.store(45)["City"] == "Quito"
    # national, not-transferred holidays replace the US calendar
    assert ds.holidays.rows() == [(dt.date(2017, 1, 2), "Traslado Primer dia del ano")]


def test_import_via_cli_with_lead_time_and_price(kaggle, tmp_path, capsys):
    assert main(["import-favorita", str(kaggle), str(tmp_path / "out"), "--lead-time", "3", "--price", "2.5"]) == 0
    assert "- sales: 6 rows" in capsys.readouterr().out
    ds = load_dataset(tmp_path / "out")
    assert set(ds.products["LeadTime"]) == {3} and set(ds.products["Price"]) == {2.5}


def test_missing_kaggle_file_is_one_sentence(kaggle, tmp_path, capsys):
    (kaggle / "oil.csv").unlink()
    with pytest.raises(FavoritaImportError, match=r"^oil.csv is missing from .*; put the Kaggle store-sales files"):
        import_favorita(kaggle, tmp_path / "out")
    assert main(["import-favorita", str(kaggle), str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error: oil.csv is missing from")
    assert not (tmp_path / "out").exists()
