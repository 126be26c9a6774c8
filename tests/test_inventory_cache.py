"""The inventory caches are keyed on the data's content fingerprint, never on id(ds)."""

from __future__ import annotations

import dataclasses
import gc

import polars as pl

from engine.inventory.forecasts import FingerprintCache, clear_cache, store_view


def test_a_new_dataset_at_a_reused_id_never_gets_the_old_result(demo):
    clear_cache()
    first = dataclasses.replace(demo, fingerprint="aaa")
    view = store_view(first, 44)
    assert view.sales["Store_ID"].unique().to_list() == [44]
    assert store_view(first, 44) is view  # cached for the same content
    del first, view
    gc.collect()
    # other content (another fingerprint) — whatever id Python gives it — gets its own view
    other = dataclasses.replace(demo, fingerprint="bbb", sales=demo.sales.with_columns(pl.col("Qty") * 2))
    mine = store_view(other, 44)
    expected = other.sales.filter(pl.col("Store_ID") == 44)["Qty"].sum()
    assert mine.sales["Qty"].sum() == expected
    # a dataset without a fingerprint (built in memory) is never cached
    bare = dataclasses.replace(demo, fingerprint="")
    assert FingerprintCache.key(bare, "view", 44) is None and store_view(bare, 44) is not store_view(bare, 44)
    clear_cache()
