"""Load + validate + build features for every store x product: engine (polars) vs naive pandas."""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from engine.data.dataset import read_dataset
from engine.data.features import build_features
from engine.bench import naive_pandas
from engine.data.demo import write_demo

NOTES = [
    "engine = engine.data.dataset.read_dataset + engine.data.features.build_features (all series at once, polars);",
    "naive pandas = engine/bench/naive_pandas.py: the same steps with a loop over every (store, product) series.",
    "Target: engine at least 5x faster than naive pandas, measured in one run.",
]


def add_arguments(parser) -> None:
    parser.add_argument("--stores", type=int, default=54, help="stores in the generated demo set (when --data is not given)")


def _engine(folder: str) -> tuple:
    t0 = time.perf_counter()
    ds, report = read_dataset(folder)
    if ds is None:
        raise ValueError(" ".join(report.error_sentences()[:3]))
    frame = build_features(ds)
    seconds = time.perf_counter() - t0
    return seconds, frame.height, frame.select("Store_ID", "Product_ID").unique().height, _peak_rss_mib()


def _naive(folder: str) -> tuple:
    t0 = time.perf_counter()
    tables, _errors = naive_pandas.load_and_validate(Path(folder))
    frame = naive_pandas.build_all_features(tables)
    seconds = time.perf_counter() - t0
    return seconds, len(frame), frame.groupby(["Store_ID", "Product_ID"]).ngroups, _peak_rss_mib()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(fn, folder: str) -> tuple:
    """Run in a fresh process so each pipeline's peak memory is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, folder).result()


def run(args) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data) if args.data else Path(tmp) / "demo"
        if not args.data:
            write_demo(folder, n_stores=getattr(args, "stores", 54))
        t_engine, rows_e, series_e, mem_e = _in_child(_engine, str(folder))
        t_naive, rows_n, series_n, mem_n = _in_child(_naive, str(folder))
    return [
        {"pipeline": "engine (polars)", "series": series_e, "rows": rows_e, "seconds": round(t_engine, 2), "peak_RSS_MiB": round(mem_e), "x faster than naive": round(t_naive / t_engine, 1)},
        {"pipeline": "naive pandas", "series": series_n, "rows": rows_n, "seconds": round(t_naive, 2), "peak_RSS_MiB": round(mem_n), "x faster than naive": 1.0},
    ]
