"""Forecast backtest: per model the test WAPE and fit time for store 44, products 3, 12, 42.

Each model is trained on data before --test-start (hyper-parameters and the chosen model come from
forward-chaining CV before it) and forecasts every day of the test window at the LeadTime horizon.
Models go to a fresh temporary folder, so every fit is timed (nothing is reused).
Targets: the chosen model beats the mean of the last 4 same weekdays by >= 10% WAPE on average;
LSTM + CNN for the three products train in <= 90 s on 2 CPU cores.
"""

from __future__ import annotations

import datetime as dt
from engine.bench._support import bench_data
import time
from engine.data.dataset import load_dataset
from engine.forecasting import NEURAL_MODELS, REFERENCE_BASELINE, run_forecast

NOTES: list[str] = []


def add_arguments(parser) -> None:
    parser.add_argument("--store", type=int, default=44)
    parser.add_argument("--products", default="3,12,42")
    parser.add_argument("--test-start", type=dt.date.fromisoformat, default=dt.date(2017, 1, 1))
    parser.add_argument("--test-end", type=dt.date.fromisoformat, default=dt.date(2017, 3, 31))
    parser.add_argument("--models", default="all")


def run(args) -> list[dict]:

    with bench_data(args) as (folder, tmp):
        ds = load_dataset(folder)
        products = [int(p) for p in args.products.split(",")]
        t0 = time.perf_counter()
        results = run_forecast(ds, args.store, products, args.test_start, args.test_end, models=args.models, models_dir=f"{tmp}/models")
        total = time.perf_counter() - t0
    rows = []
    for r in results:
        for name, m in r.models.items():
            rows.append({"product": r.product, "model": name, "chosen": "*" if name == r.model else "",
                         "validation_wape": r.validation[name]["wape"], "test_wape": m["wape"], "test_mase": m["mase"],
                         "final_fit_s": r.fit_seconds[name], "cv_s": r.cv_seconds[name]})
    gains = [1 - r.metrics["wape"] / r.models[REFERENCE_BASELINE]["wape"] for r in results]
    neural_fit = sum(r.fit_seconds.get(n, 0.0) for r in results for n in NEURAL_MODELS)
    neural_all = neural_fit + sum(r.cv_seconds.get(n, 0.0) for r in results for n in NEURAL_MODELS)
    NOTES.clear()
    NOTES.extend([
        f"test window {args.test_start} to {args.test_end}, store {args.store}, horizon = LeadTime; total run {total:.1f} s",
        "chosen model vs weekday_mean4 (test WAPE reduction): "
        + ", ".join(f"product {r.product} {r.model} {g:+.1%}" for r, g in zip(results, gains))
        + f"; average {sum(gains) / len(gains):+.1%} (target >= +10%)",
    ])
    if any(n in r.models for r in results for n in NEURAL_MODELS):
        NOTES.append(f"LSTM + CNN final fits for {len(results)} products: {neural_fit:.1f} s (target <= 90 s); "
                     f"including their forward-chaining CV fits: {neural_all:.1f} s")
    return rows
