"""The demo chain: deterministic, valid, and shaped like a real chain."""

import datetime as dt
import hashlib

import numpy as np
import polars as pl

from engine.data.dataset import read_dataset
from engine.data.demo import PILOT_PRODUCTS, PILOT_STORE, write_demo
from engine.data.features import daily_sales


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = write_demo(tmp_path / "a", n_stores=4)
    b = write_demo(tmp_path / "b", n_stores=4)
    c = write_demo(tmp_path / "c", n_stores=4, seed=7)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["sales.csv"] != _digest(tmp_path / "c")["sales.csv"]
    assert set(a) == {"sales", "products", "stores", "orders", "oil_price"}


def test_demo_is_valid_and_has_the_pilot(demo_dir, demo):
    ds, report = read_dataset(demo_dir)
    assert report.ok
    assert len(demo.store_ids) == 54 and 15 <= len(demo.product_ids) <= 40
    assert demo.start == dt.date(2014, 1, 1) and demo.end == dt.date(2017, 3, 31)
    for p in PILOT_PRODUCTS:
        assert demo.lead_time(p) == 2
    assert len(set(demo.products["LeadTime"].to_list())) >= 4 and demo.products["Price"].n_unique() >= 10
    totals = demo.sales.group_by("Store_ID").agg(pl.col("Qty").sum()).sort("Qty", descending=True)
    assert totals["Store_ID"][0] == PILOT_STORE  # store 44 is the top store
    assert demo.stores.filter(pl.col("Store_ID") == 44)["City"].item() == "New York"
    assert demo.stores["City"].n_unique() >= 10 and demo.stores["State"].n_unique() >= 5


def test_demo_looks_like_a_real_chain(demo):
    s = daily_sales(demo, PILOT_STORE, 12).with_columns(pl.col("Date").dt.weekday().alias("wd"))
    by_wd = s.filter(pl.col("Qty") > 0).group_by("wd").agg(pl.col("Qty").mean()).sort("wd")["Qty"].to_list()
    assert max(by_wd) / min(by_wd) > 1.15  # weekly seasonality: Saturday well above Tuesday
    assert s.filter(pl.col("Date").dt.month() == 12, pl.col("Date").dt.day() == 25)["Qty"].sum() == 0  # closed
    december = s.filter(pl.col("Date").is_between(dt.date(2016, 12, 10), dt.date(2016, 12, 23)))["Qty"].mean()
    february = s.filter(pl.col("Date").is_between(dt.date(2016, 2, 1), dt.date(2016, 2, 28)))["Qty"].mean()
    assert december > 1.15 * february  # yearly peak before Christmas
    payday = s.filter(pl.col("Date").dt.day() == 15, pl.col("Qty") > 0)["Qty"].mean()
    mid = s.filter(pl.col("Date").dt.day().is_in([10, 11, 12, 18, 19, 20]), pl.col("Qty") > 0)["Qty"].mean()
    assert payday > 1.1 * mid
    oil = demo.oil_price
    assert oil.filter(pl.col("Date") < dt.date(2014, 7, 1))["WTI_Price"].mean() > 90
    assert oil.filter(pl.col("Date").is_between(dt.date(2016, 1, 15), dt.date(2016, 2, 28)))["WTI_Price"].mean() < 35  # the crash
    # customers of stores in one city move together
    ny = demo.visits.join(demo.stores, on="Store_ID").filter(pl.col("City") == "New York", pl.col("Store_ID").is_in([44, 2]))
    wide = ny.pivot(on="Store_ID", index="Date", values="CustomerCount").drop_nulls()
    detrended = [np.diff(np.log(wide[c].to_numpy()), 7) for c in ("44", "2")]
    assert np.corrcoef(*detrended)[0, 1] > 0.5
    # some days without a sales row for slow products (zero days)
    slow = daily_sales(demo, PILOT_STORE, 14)
    assert 0 < (slow["Qty"] == 0).sum() < slow.height
