"""Pilot report generation time: numbers, charts and PDF, cold (trains the models) and warm (models saved on disk).

Store 44, products 3, 12, 42, the last three full months of the data (defaults). The cold run trains
every cheap model per window and product and saves them; the warm runs start from an empty in-memory
cache and reuse the saved models, as a second `python -m engine report` does. Target: warm <= 60 s.
"""

from __future__ import annotations

import time

from engine.bench._support import bench_data
from engine.data.dataset import load_dataset
from engine.inventory.forecasts import clear_cache
from engine.report.charts import all_charts
from engine.report.fonts import report_fonts
from engine.report.numbers import build_report
from engine.report.pdf import render_pdf
from engine.report.windows import parse_windows

NOTES: list[str] = []
TARGET_S = 60.0


def add_arguments(parser) -> None:
    parser.add_argument("--store", type=int, default=44)
    parser.add_argument("--products", default="3,12,42")
    parser.add_argument("--windows", default=None, help="as for `report` (default: the last 3 full months of the data)")
    parser.add_argument("--models", default="auto")


def _one(ds, args, windows, lang: str, models_dir: str, label: str) -> dict:
    clear_cache()
    products = [int(p) for p in args.products.split(",")]
    t0 = time.perf_counter()
    numbers = build_report(ds, args.store, products, windows, lang=lang, models=args.models, models_dir=models_dir)
    t1 = time.perf_counter()
    fonts = report_fonts(lang)
    charts = all_charts(numbers, lang, fonts.chart_font, fonts.chart_dir)
    t2 = time.perf_counter()
    pdf = render_pdf(numbers, charts)
    t3 = time.perf_counter()
    return {"run": label, "lang": lang, "products": len(products), "windows": len(windows), "numbers_s": t1 - t0, "charts_s": t2 - t1,
            "pdf_s": t3 - t2, "total_s": t3 - t0, "pdf_kib": len(pdf) / 1024}


def run(args) -> list[dict]:
    NOTES.clear()
    with bench_data(args) as (folder, tmp):
        ds = load_dataset(folder)
        windows = parse_windows(args.windows, ds.start, ds.end)
        models = f"{tmp}/models"
        rows = [_one(ds, args, windows, "en", models, "cold (trains and saves models)"),
                _one(ds, args, windows, "en", models, "warm (models on disk)"),
                _one(ds, args, windows, "ko", models, "warm (models on disk)")]
    warm = max(r["total_s"] for r in rows[1:])
    NOTES.append(f"store {args.store}, products {args.products}, windows {windows[0][0]}..{windows[-1][1]} ({len(windows)}), models {args.models}, "
                 f"data {'demo chain' if args.data is None else args.data}")
    NOTES.append(f"warm report generation {warm:.1f} s for {len(args.products.split(','))} products (target <= {TARGET_S:.0f} s: "
                 f"{'met' if warm <= TARGET_S else 'NOT met'})")
    return rows
