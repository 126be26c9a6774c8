"""Explore page computations: seconds per engine call on the demo chain (target: each interaction under 2 s)."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time

from engine.analysis.decomposition import decompose
from engine.analysis.diagnostics import series_diagnostics
from engine.analysis.factors import factor_analysis, factor_frame
from engine.analysis.patterns import patterns
from engine.analysis.series import daily_series
from engine.data.dataset import load_dataset
from engine.data.demo import write_demo

NOTES = [
    "first_s: the first call in a fresh process (includes the lazy statsmodels/scipy imports, paid once per server).",
    "median_s: median of --repeat further calls (what an interaction costs when the page cache misses).",
    "An interaction that changes store/product/window recomputes every section: the 'all sections' row;",
    "changing one section's option recomputes only that section; repeated choices are cache hits (~0 s).",
    "Streamlit/Altair drawing time is not included (see docs/benchmarks.md: AppTest reruns measured separately).",
]


def add_arguments(parser) -> None:
    parser.add_argument("--store", type=int, default=44)
    parser.add_argument("--product", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)


def _time(fn, repeat: int) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def run(args) -> list[dict]:
    folder = args.data
    if folder is None:
        folder = tempfile.mkdtemp(prefix="kmart-bench-") + "/current"
        write_demo(folder)
    ds = load_dataset(folder)
    s, p, repeat = args.store, args.product, args.repeat
    quarter = (ds.end - dt.timedelta(days=90), ds.end)
    frame = factor_frame(ds, s, p)
    cases = [
        ("sales series", "whole", lambda: daily_series(ds, s, p)),
        ("decompose STL weekly", "whole", lambda: decompose(ds, s, p)),
        ("decompose STL yearly", "whole", lambda: decompose(ds, s, p, period="yearly")),
        ("decompose classical weekly", "whole", lambda: decompose(ds, s, p, method="classical")),
        ("patterns", "whole", lambda: patterns(ds, s, p)),
        ("patterns", "quarter", lambda: patterns(ds, s, p, *quarter)),
        ("factor frame (per store/product)", "whole", lambda: factor_frame(ds, s, p)),
        ("factors (lags 0-14, rolling 90)", "whole", lambda: factor_analysis(ds, s, p, frame=frame)),
        ("factors, week-on-week changes", "whole", lambda: factor_analysis(ds, s, p, frame=frame, transform="change_7d")),
        ("factors", "quarter", lambda: factor_analysis(ds, s, p, *quarter, frame=frame)),
        ("diagnostics of STL residual", "whole", lambda: series_diagnostics(ds, s, p)),
        ("diagnostics of sales", "quarter", lambda: series_diagnostics(ds, s, p, *quarter, of="sales")),
    ]
    rows = []
    for name, window, fn in cases:
        first, median = _time(fn, repeat)
        rows.append({"computation": name, "window": window, "first_s": first, "median_s": median})
    by = {(r["computation"], r["window"]): r["median_s"] for r in rows}
    page = [("sales series", "whole"), ("decompose STL weekly", "whole"), ("patterns", "whole"),
            ("factor frame (per store/product)", "whole"), ("factors (lags 0-14, rolling 90)", "whole"), ("diagnostics of STL residual", "whole")]
    total = sum(by[k] for k in page)
    rows.append({"computation": "all sections (new store/product)", "window": "whole", "first_s": None, "median_s": total,
                 "target_s": 2.0, "met": "yes" if total < 2.0 else "NO"})
    return rows
