"""Nightly batch: a real LocalCluster (2 worker processes) gives the single-process numbers; failures
are isolated; re-runs are incremental; the CLI prints the summary."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sys
import types
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

MODELS = "weekday_mean4,pooled_lgbm"  # the pooled model learns from every product of the store: one task per store
STORES, PRODUCTS = "44,45", "3,12"
TIMING = ("fit_seconds", "cv_seconds", "reused")  # differ between runs by nature; every number is compared


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c in ("store", "product", "model", "horizon") if c in frame.columns]
    return frame.drop([c for c in TIMING if c in frame.columns]).sort(keys)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, demo_dir) -> Path:
    """A private copy of the demo data (its state folder, models and partitions beside it)."""
    folder = tmp_path_factory.mktemp("batch") / "data" / "current"
    shutil.copytree(demo_dir, folder)
    return folder


@pytest.fixture(scope="module")
def runs(chain):
    """The same selection run in this process (full table, no Dask) and on a LocalCluster with 2 workers."""
    from engine.batch.runner import run_batch

    root = chain.parent.parent
    single = run_batch(chain, stores=STORES, products=PRODUCTS, models=MODELS, workers=0, out=root / "single", models_dir=root / "models-single")
    seen = []
    # as under Streamlit (the Nightly batch page, AppTest), __main__ is a page script that must not run in the workers
    page = root / "a_page.py"
    page.write_text("raise RuntimeError('a page script ran inside a Dask worker')\n")
    as_page = types.ModuleType("__main__")
    as_page.__file__ = str(page)
    real_main = sys.modules["__main__"]
    sys.modules["__main__"] = as_page
    try:
        cluster = run_batch(chain, stores=STORES, products=PRODUCTS, models=MODELS, workers=2, out=root / "cluster",
                            models_dir=root / "models-cluster", progress=lambda done, total, failed, status: seen.append((done, total, failed, status)))
    finally:
        sys.modules["__main__"] = real_main
    return single, cluster, seen


def test_local_cluster_gives_the_single_process_numbers(runs, chain):
    single, cluster, seen = runs
    assert single["series_total"] == cluster["series_total"] == 4
    assert single["series_ok"] == cluster["series_ok"] == 4 and cluster["series_failed"] == 0
    assert cluster["workers"] == 2 and "LocalCluster" in cluster["scheduler"] and single["workers"] == 0
    assert [s[:3] for s in seen] == [(1, 4, 0), (2, 4, 0), (3, 4, 0), (4, 4, 0)]
    assert len({s[3]["worker"] for s in seen}) == 2  # both worker processes did work
    # one task per store: a store's series ran in the same worker process, each with its CPU seconds
    for store in (44, 45):
        assert len({s[3]["worker"] for s in seen if s[3]["store"] == store}) == 1
    assert all(s[3]["cpu_seconds"] > 0 for s in seen)
    assert all(s[3]["threads"] == {"polars": 1, "blas": 1} for s in seen)  # no pool in a worker ignores the one-thread setting
    assert cluster["tasks"] == 2 and cluster["task_cpu_seconds"] == pytest.approx(sum(s[3]["cpu_seconds"] for s in seen), abs=0.01)
    out_single, out_cluster = Path(single["out"]), Path(cluster["out"])
    for name in ("forecasts", "metrics", "order_sheets"):
        a, b = pl.read_parquet(out_single / f"{name}.parquet"), pl.read_parquet(out_cluster / f"{name}.parquet")
        assert a.height > 0
        assert_frame_equal(_sorted(a), _sorted(b))
    summary = json.loads((out_cluster / "summary.json").read_text())
    assert summary == cluster
    for key in ("started", "finished", "seconds", "series_total", "series_ok", "series_failed", "series_skipped", "workers", "scheduler", "date"):
        assert key in summary
    assert pl.read_parquet(out_cluster / "failures.parquet").height == 0


def test_batch_numbers_are_the_engine_numbers(runs, chain):
    """The forecasts come from the models trained up to the close, and the order line is order_sheet's for them."""
    from engine.data.dataset import load_dataset
    from engine.forecasting.series import Series
    from engine.forecasting.training import train_models
    from engine.ordering.close_forecast import close_quantiles
    from engine.ordering.sheet import order_sheet

    _, cluster, _ = runs
    out = Path(cluster["out"])
    ds = load_dataset(chain)
    day = ds.end
    assert cluster["date"] == str(day)
    metrics = pl.read_parquet(out / "metrics.parquet")
    forecasts = pl.read_parquet(out / "forecasts.parquet")
    orders = pl.read_parquet(out / "order_sheets.parquet")
    assert sorted(metrics["model"].unique()) in (["pooled_lgbm", "weekday_mean4"], ["ensemble", "pooled_lgbm", "weekday_mean4"])
    for store, product in ((44, 3), (45, 12)):
        mine = metrics.filter((pl.col("store") == store) & (pl.col("product") == product))
        chosen = mine.filter(pl.col("chosen"))["model"].item()
        assert chosen == mine.sort("validation_wape")["model"][0]  # the lowest validation WAPE wins
        rows = forecasts.filter((pl.col("store") == store) & (pl.col("product") == product)).sort("horizon")
        assert rows["horizon"].to_list() == list(range(1, ds.lead_time(product) + 1))
        assert (rows["model"] == chosen).all()
        models = Path(cluster["out"]).parent / "models-cluster"
        line = orders.filter((pl.col("store") == store) & (pl.col("product") == product))
        assert line.height == 1 and line["date"].item() == day
        assert line["model"].item() == chosen  # the ensemble too: the sheet takes the quantiles, not a model name
        series = Series(ds, store, product)
        trained, again = train_models(MODELS.split(","), series, tuple(range(1, series.lead_time + 1)), day + dt.timedelta(days=1), models)
        assert again == chosen and all(t.reused for t in trained.values() if t.name != "ensemble")  # trained once, by the batch
        quantiles = close_quantiles(ds, store, product, day, fitted=trained[chosen])
        assert rows["forecast"].to_list() == pytest.approx(list(quantiles.point))
        sheet = order_sheet(ds, store, day, products=[product], forecasts={product: quantiles})
        assert line.drop("store", "date").to_dicts() == sheet.to_frame().to_dicts()
        assert line["recommended"].item() == sheet.lines[0].recommended >= 0


def test_rerun_is_incremental_and_follows_changed_data(runs, chain):
    from engine.batch.runner import run_batch

    _, cluster, _ = runs
    out = Path(cluster["out"])
    before = pl.read_parquet(out / "forecasts.parquet")
    again = run_batch(chain, stores=STORES, products=PRODUCTS, models=MODELS, workers=2, out=out, models_dir=out.parent / "models-cluster")
    assert (again["series_skipped"], again["series_computed"], again["series_ok"]) == (4, 0, 4)
    assert_frame_equal(_sorted(pl.read_parquet(out / "forecasts.parquet")), _sorted(before))
    # store 45 sells more on one day before the close: only its two series are recomputed
    sales = pl.read_csv(chain / "sales.csv", try_parse_dates=True)
    day = sales.filter(pl.col("Store_ID") == 45)["Date"].max() - dt.timedelta(days=3)
    changed = sales.with_columns(pl.when((pl.col("Store_ID") == 45) & (pl.col("Date") == day)).then(pl.col("Qty") * 3 + 7)
                                 .otherwise(pl.col("Qty")).alias("Qty"))
    changed.write_csv(chain / "sales.csv", date_format="%Y-%m-%d")
    seen = []
    third = run_batch(chain, stores=STORES, products=PRODUCTS, models=MODELS, workers=0, out=out, models_dir=out.parent / "models-cluster",
                      progress=lambda done, total, failed, status: seen.append((status["store"], status["product"])))
    assert (third["series_skipped"], third["series_computed"], third["series_ok"]) == (2, 2, 4)
    assert sorted(seen) == [(45, 3), (45, 12)]
    after = pl.read_parquet(out / "forecasts.parquet")
    assert_frame_equal(_sorted(after.filter(pl.col("store") == 44)), _sorted(before.filter(pl.col("store") == 44)))
    assert not after.filter(pl.col("store") == 45).equals(before.filter(pl.col("store") == 45))


def test_a_failing_series_is_isolated_and_reported(runs, chain, monkeypatch):
    """A corrupt partition file of store 45 fails its series on the workers; store 44's series still finish."""
    from engine.batch.runner import run_batch
    from engine.batch import partitions as parts
    from engine.data.dataset import load_dataset
    from engine.data.storage import state_dir

    ds = load_dataset(chain)
    folder = parts.write_partitions(ds, state_dir(chain))
    parts.store_file(folder, 45).write_bytes(b"this is not parquet")
    out = chain.parent.parent / "broken"
    day = ds.end - dt.timedelta(days=1)
    summary = run_batch(chain, stores=STORES, products=PRODUCTS, models="weekday_mean4", date=day, workers=2, out=out,
                        models_dir=chain.parent.parent / "models-broken")
    assert (summary["series_total"], summary["series_ok"], summary["series_failed"]) == (4, 2, 2)
    failures = pl.read_parquet(out / "failures.parquet").sort("product")
    assert failures["store"].to_list() == [45, 45] and failures["product"].to_list() == [3, 12]
    for sentence in failures["error"]:
        assert sentence.startswith("store 45 product") and "cannot be read" in sentence and sentence.endswith(".")
        assert "\n" not in sentence and "Traceback" not in sentence
    assert sorted(summary["failures"]) == sorted(failures["error"])
    assert sorted(pl.read_parquet(out / "forecasts.parquet")["store"].unique()) == [44]
    # the failures are retried on the next run (nothing was stored for them)
    shutil.rmtree(folder)
    retry = run_batch(chain, stores=STORES, products=PRODUCTS, models="weekday_mean4", date=day, workers=0, out=out,
                      models_dir=chain.parent.parent / "models-broken")
    assert (retry["series_skipped"], retry["series_computed"], retry["series_failed"]) == (2, 2, 0)
    assert pl.read_parquet(out / "failures.parquet").height == 0


def test_a_series_without_sales_is_a_sentence(demo):
    from engine.batch.runner import run_batch

    with pytest.raises(ValueError, match=r"store\(s\) 999 have no sales rows"):
        run_batch(demo.folder, stores="999", products="3", ds=demo, workers=0, out="/nonexistent/never-written")
    with pytest.raises(ValueError, match="too little history"):
        run_batch(demo.folder, stores="44", products="3", date=demo.start + dt.timedelta(days=30), ds=demo, workers=0, out="/nonexistent/x")


def test_cli_json_summary(chain, tmp_path, capsys):
    from engine.cli import main

    out = tmp_path / "cli"
    code = main(["batch", "--data", str(chain), "--stores", "44", "--products", "3", "--models", "weekday_mean4", "--workers", "0",
                 "--out", str(out), "--models-dir", str(tmp_path / "models"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    assert printed == json.loads((out / "summary.json").read_text())
    assert (printed["series_total"], printed["series_ok"], printed["stores"], printed["products"]) == (1, 1, [44], [3])
    assert "1/1 series, 0 failed" in captured.err  # the progress bar
    forecasts = pl.read_parquet(out / "forecasts.parquet")
    assert forecasts.height == 2 and (forecasts["model"] == "weekday_mean4").all()
    # the readable summary, and a bad selection is one sentence with exit code 2
    assert main(["batch", "--data", str(chain), "--stores", "44", "--products", "3", "--models", "weekday_mean4", "--workers", "0",
                 "--out", str(out), "--models-dir", str(tmp_path / "models")]) == 0
    text = capsys.readouterr().out
    assert "1/1 series ok, 0 failed, 1 skipped" in text
    assert main(["batch", "--data", str(chain), "--stores", "4x", "--workers", "0", "--out", str(out)]) == 2
    assert "--stores must be 'all' or ids" in capsys.readouterr().err


def test_a_given_scheduler_address_runs_the_tasks(chain, tmp_path):
    """--scheduler tcp://host:port: the tasks run on that cluster (here one started by the test), same numbers as in-process."""
    from distributed import LocalCluster

    from engine.batch.runner import run_batch

    kwargs = dict(stores="44", products="12", models="weekday_mean4")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_batch(chain, scheduler=cluster.scheduler_address, out=tmp_path / "remote", models_dir=tmp_path / "m-remote", **kwargs)
    assert (remote["scheduler"], remote["workers"], remote["series_ok"]) == (cluster.scheduler_address, 1, 1)
    here = run_batch(chain, workers=0, out=tmp_path / "here", models_dir=tmp_path / "m-here", **kwargs)
    for name in ("forecasts", "order_sheets"):
        assert_frame_equal(_sorted(pl.read_parquet(tmp_path / "remote" / f"{name}.parquet")), _sorted(pl.read_parquet(tmp_path / "here" / f"{name}.parquet")))


def test_an_unreachable_scheduler_is_a_sentence(chain, tmp_path):
    from engine.batch.runner import run_batch

    with pytest.raises(ValueError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*leave out --scheduler\.$"):
        run_batch(chain, stores="44", products="3", models="weekday_mean4", scheduler="tcp://127.0.0.1:9", out=tmp_path / "x",
                  models_dir=tmp_path / "m")


def test_selection_parsing():
    from engine.batch.plan import parse_ids

    assert parse_ids("all", "stores") is None and parse_ids(None, "stores") is None
    assert parse_ids("44, 45", "stores") == [44, 45]
    with pytest.raises(ValueError, match="--products must be 'all' or ids"):
        parse_ids("3;12", "products")


def test_the_progress_bar_writes_to_the_stderr_of_the_moment(monkeypatch):
    """The CLI's progress bar uses sys.stderr as it is when the bar is made, not the stream at import time."""
    import io

    from engine.commands.batch import ProgressBar

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    ProgressBar()(1, 2, 0)
    monkeypatch.setattr("sys.stderr", second)
    first.close()  # as pytest closes a captured stream after its test
    bar = ProgressBar()
    bar(2, 2, 0)
    bar.close()
    assert "2/2 series, 0 failed" in second.getvalue()


def test_with_the_pooled_model_a_series_follows_its_whole_store(demo):
    """The pooled model learns from every product of the store: another product's sales change the series' key."""
    from engine.batch.plan import plan_series

    def keys(ds, models):
        return {(s.store, s.product): s.key for s in plan_series(ds, "44,45", "3", {"models": models}, ds.end)}

    day = demo.end - dt.timedelta(days=3)
    other = demo.sales.with_columns(pl.when((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 12) & (pl.col("Date") == day))
                                    .then(pl.col("Qty") + 5).otherwise(pl.col("Qty")).alias("Qty"))
    changed = dataclasses.replace(demo, sales=other)
    pooled, plain = ("weekday_mean4", "pooled_lgbm"), ("weekday_mean4",)
    before, after = keys(demo, pooled), keys(changed, pooled)
    assert before[(44, 3)] != after[(44, 3)] and before[(45, 3)] == after[(45, 3)]
    assert keys(demo, plain) == keys(changed, plain)  # without it, product 12's rows do not touch product 3


def test_series_are_grouped_into_one_task_per_store():
    from engine.batch.plan import SeriesSpec
    from engine.batch.runner import by_store

    specs = [SeriesSpec(45, 3, "a"), SeriesSpec(44, 3, "b"), SeriesSpec(44, 12, "c"), SeriesSpec(46, 3, "d"), SeriesSpec(44, 42, "e")]
    groups = by_store(specs)
    assert [[(s.store, s.product) for s in g] for g in groups] == [[(44, 3), (44, 12), (44, 42)], [(45, 3)], [(46, 3)]]
