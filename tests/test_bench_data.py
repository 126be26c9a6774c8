"""The benchmark's naive pandas pipeline computes the same features as the engine."""

import numpy as np
import polars as pl

from engine.bench import naive_pandas
from engine.data.dataset import load_dataset
from engine.data.demo import write_demo
from engine.data.features import build_features


def test_naive_pandas_and_engine_agree(tmp_path):
    folder = tmp_path / "d"
    write_demo(folder, n_stores=2)
    engine = build_features(load_dataset(folder)).sort("Store_ID", "Product_ID", "Date")
    tables, errors = naive_pandas.load_and_validate(folder)
    assert errors == []
    naive = pl.from_pandas(naive_pandas.build_all_features(tables)).with_columns(pl.col("Date").cast(pl.Date)).sort("Store_ID", "Product_ID", "Date")
    assert naive.height == engine.height
    for col in ["Qty", "customers", "city_customers", "state_customers", "oil", "oil_change_7d", "oil_band", "weekday",
                "dow_mean_qty", "ma7", "diff_1", "diff_7", "is_holiday", "is_closed", "is_payday", "target"]:
        a = engine[col].cast(pl.Float64).to_numpy()
        b = naive[col].cast(pl.Float64).to_numpy()
        assert np.allclose(a, b, equal_nan=True), col
