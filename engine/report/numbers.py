"""Every number of the pilot report, built once: ``build_report`` feeds both the PDF and ``report --json``.

Four sections, each from the engine functions the pages and the CLI already use:
1. data and patterns: the validation warnings, the filled oil days, STL seasonality strengths
   (``engine.analysis.decomposition``), payday / holiday lifts (``engine.analysis.patterns``), oil and
   customer correlations with their verdict (``engine.analysis.factors``);
2. forecasting: one ``run_forecast`` call per window (``backtest`` below is the one place to swap in
   another backtest), pooled over the windows: RMSE and WAPE over all test days, MASE as the
   day-weighted mean of each window's MASE (each window scales by the seasonal-naive error of its own
   training data); the model chosen by forward-chaining CV in each window; an 80 % band of
   forecast ± 1.28 × that model's validation RMSE and its coverage on the test days; the residual tests
   (``engine.stats``) of the chosen forecasts;
3. inventory: ``evaluate_policy`` over the span of the windows for the honest policy (a service level,
   calibrated on days before the span) and the hindsight minimum (uses the future), with the
   perfect-foresight bound of the same days;
4. what to do next: ``engine.report.rules`` turns these numbers into sentences.

The result is a plain JSON-ready dict; the PDF prints its values rounded (``engine.report.text``).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from engine.analysis.decomposition import decompose
from engine.analysis.factors import factor_analysis
from engine.analysis.patterns import patterns
from engine.data.dataset import Dataset, store_products
from engine.forecasting import REFERENCE_BASELINE, parse_models, run_forecast
from engine.forecasting.metrics import rmse, wape
from engine.inventory import evaluate_policy
from engine.inventory.kpis import total_kpis
from engine.report.rules import next_steps
from engine.report.windows import windows_text
from engine.stats import residual_diagnostics

BASELINES = ("last_value", "seasonal_naive", "weekday_mean4")
BAND_LEVEL = 0.8
BAND_Z = 1.2815515655446004  # the normal 90 % quantile: forecast ± z x RMSE covers 80 % of normal errors
HINDSIGHT = "min-zero-loss"
HISTORY_DAYS = 28
LANGS = ("en", "ko")


def _num(x) -> float | None:
    """A finite float or None (NaN and inf never reach the JSON or the PDF)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def reproduce_command(folder, store: int, products: list[int], windows, lang: str, models: str, safety_stock: str, out: str = "report.pdf",
                      inventory_model: str = "auto") -> str:
    parts = ["python -m engine report", f"--data {folder}", f"--store {store}", f"--products {','.join(map(str, products))}",
             f"--windows {windows_text(windows)}", f"--lang {lang}"]
    if models != "auto":
        parts.append(f"--models {models}")
    if safety_stock != "service-level:0.99":
        parts.append(f"--safety-stock {safety_stock}")
    if inventory_model != "auto":
        parts.append(f"--inventory-model {inventory_model}")
    return " ".join(parts + [f"--out {out}"])


# ---------------------------------------------------------------- 1. data and patterns

def data_section(ds: Dataset, store: int) -> dict:
    oil = ds.oil_price.filter(pl.col("Date").is_between(ds.start, ds.end))
    info = ds.store(store)
    return {"start": str(ds.start), "end": str(ds.end), "days": (ds.end - ds.start).days + 1,
            "stores": len(ds.store_ids), "products": len(ds.product_ids), "store_city": info.get("City"), "store_type": info.get("Store_Type"),
            "sales_rows": int(ds.sales.filter(pl.col("Store_ID") == store).height),
            "filled_oil_days": int(oil["WTI_Filled"].sum()), "warnings": list(ds.warnings)}


def _effect(eff: pl.DataFrame, name: str) -> dict:
    row = eff.filter(pl.col("effect") == name).row(0, named=True)
    return {"days": int(row["days"]), "lift_pct": _num(row["lift_pct"]), "p_value": _num(row["p_value"]), "verdict": row["verdict"]}


def _factor(fa, name: str) -> dict:
    r = fa.result(name)
    return {"r": _num(r.r_best), "lag": int(r.best_lag), "r_lag0": _num(r.r_lag0), "stable": bool(r.stable),
            "same_sign_share": _num(r.same_sign_share), "verdict": r.verdict}


def pattern_section(ds: Dataset, store: int, product: int, start: dt.date, end: dt.date) -> dict:
    """Seasonality strengths, calendar lifts and outside factors of one product over [start, end]."""
    weekly = decompose(ds, store, product, start, end, period=7)
    try:
        yearly = decompose(ds, store, product, start, end, period=365)
        yearly_strength, yearly_verdict = _num(yearly.seasonal_strength), yearly.verdict
    except ValueError as exc:  # fewer than two years of data
        yearly_strength, yearly_verdict = None, str(exc.args[0])
    pat = patterns(ds, store, product, start, end)
    fa = factor_analysis(ds, store, product, start, end)
    return {"product": product, "name": str(ds.product(product).get("SubCategory") or product), "start": str(start), "end": str(end),
            "weekly_strength": _num(weekly.seasonal_strength), "weekly_verdict": weekly.verdict,
            "yearly_strength": yearly_strength, "yearly_verdict": yearly_verdict,
            "trend_strength": _num(weekly.trend_strength), "weekday_verdict": pat.weekday_verdict,
            "payday": _effect(pat.effects, "Payday"), "holiday": _effect(pat.effects, "Holiday"),
            "holiday_eve": _effect(pat.effects, "Day before a holiday"), "holiday_verdict": pat.holiday_verdict,
            "oil": _factor(fa, "oil"), "customers": _factor(fa, "customers"),
            "weekday_index": [{"weekday": int(r["weekday"]), "index": _num(r["index"])} for r in pat.weekday.iter_rows(named=True)],
            "month_index": [{"month": int(r["month"]), "index": _num(r["index"])} for r in pat.monthly.iter_rows(named=True)]}


# ---------------------------------------------------------------- 2. forecasting

def backtest(ds: Dataset, store: int, products: list[int], windows, models: str, models_dir=None, progress=None) -> list[list]:
    """One ``run_forecast`` per window (models trained before each window): [window][product] -> ForecastResult.

    The one call to swap when the forecasting layer offers a multi-window backtest."""
    return [run_forecast(ds, store, products, start, end, models=models, models_dir=models_dir, progress=progress) for start, end in windows]


def _pooled(frames: list[pl.DataFrame], mases: list[tuple[int, float]]) -> dict:
    p = pl.concat(frames).drop_nulls("actual")
    a, f = p["actual"].to_numpy(), p["forecast"].to_numpy()
    weight = sum(n for n, m in mases if m is not None and math.isfinite(m))
    mase = sum(n * m for n, m in mases if m is not None and math.isfinite(m)) / weight if weight else None
    return {"rmse": _num(rmse(a, f)), "wape": _num(wape(a, f)), "mase": _num(mase), "days": int(len(a))}


def forecast_product(per_window: list, windows) -> dict:
    """Pooled metrics per model, the chosen model of each window, its band and residual tests, for one product."""
    first = per_window[0]
    common = [m for m in first.models if all(m in r.models for r in per_window)]
    rows = []
    for name in common:
        frames = [r.all_predictions.filter(pl.col("model") == name) for r in per_window]
        mases = [(f.drop_nulls("actual").height, r.models[name].get("mase")) for f, r in zip(frames, per_window)]
        val = [r.validation[name].get("wape") for r in per_window if name in r.validation]
        val = [v for v in val if v is not None and math.isfinite(v)]
        rows.append({"model": name, "kind": "baseline" if name in BASELINES else "candidate", **_pooled(frames, mases),
                     "validation_wape": _num(np.mean(val)) if val else None,
                     "chosen_in": sum(r.model == name for r in per_window)})
    series, mases = [], []
    for r, (start, end) in zip(per_window, windows):
        half = BAND_Z * (r.validation.get(r.model, {}).get("rmse") or math.nan)
        s = r.predictions.with_columns(pl.lit(r.model).alias("model"), pl.lit(str(start)).alias("window"),
                                       (pl.col("forecast") - half).clip(lower_bound=0.0).alias("lower"), (pl.col("forecast") + half).alias("upper"))
        series.append(s)
        mases.append((s.drop_nulls("actual").height, r.metrics.get("mase")))
    chosen_frame = pl.concat(series).sort("date")
    chosen = {"model": "chosen by validation", "kind": "chosen", **_pooled([chosen_frame.select("date", "actual", "forecast")], mases),
              "validation_wape": None, "picked": {str(s): r.model for r, (s, _) in zip(per_window, windows)}}
    inside = chosen_frame.drop_nulls("actual").filter(pl.col("lower").is_not_nan() & pl.col("upper").is_not_nan())
    coverage = _num(inside.filter(pl.col("actual").is_between(pl.col("lower"), pl.col("upper"))).height / inside.height) if inside.height else None
    base = next((r for r in rows if r["model"] == REFERENCE_BASELINE), None)
    skill = (1 - chosen["wape"] / base["wape"]) if base and base["wape"] and chosen["wape"] is not None else None
    try:
        diag = residual_diagnostics((chosen_frame.drop_nulls("actual")["actual"] - chosen_frame.drop_nulls("actual")["forecast"]).to_numpy(),
                                    what="forecast errors")
        tests = [{"test": t.name, "statistic": _num(t.statistic), "p_value": _num(t.p_value), "passed": bool(t.passed), "sentence": t.sentence}
                 for t in diag.tests]
        acf_sentence = diag.acf_sentence
    except ValueError as exc:
        tests, acf_sentence = [], str(exc.args[0])
    history = first.history.filter(pl.col("date") >= windows[0][0] - dt.timedelta(days=HISTORY_DAYS)) if first.history is not None else None
    return {"product": first.product, "lead_time": first.lead_time, "models": sorted(rows, key=lambda r: (r["kind"] != "baseline", r["model"])),
            "chosen": chosen, "skill_vs_baseline": _num(skill), "baseline": REFERENCE_BASELINE,
            "band": {"level": BAND_LEVEL, "coverage": coverage, "rule": "forecast ± 1.28 × the chosen model's validation RMSE"},
            "residual_tests": tests, "acf_sentence": acf_sentence,
            "series": [{"date": str(r["date"]), "actual": _num(r["actual"]), "forecast": _num(r["forecast"]), "lower": _num(r["lower"]),
                        "upper": _num(r["upper"]), "model": r["model"]} for r in chosen_frame.iter_rows(named=True)],
            "history": [{"date": str(r["date"]), "actual": _num(r["actual"])} for r in history.iter_rows(named=True)] if history is not None else []}


# ---------------------------------------------------------------- 3. inventory

INVENTORY_KEYS = ("safety_stock", "avg_stock_qty", "avg_inventory_value", "turnover", "lost_qty", "lost_value", "fill_rate", "stockout_days",
                  "ratio_to_bound")


def _policy_rows(result) -> dict:
    products = []
    for p in result.products:
        products.append({"product": p.product, "model": p.model, "safety_label": p.plan.label, "safety_stock": _num(p.safety_stock),
                         **{k: _num(p.kpis[k]) for k in INVENTORY_KEYS if k in p.kpis}, "ratio_to_bound": _num(p.ratio_to_bound)})
    t = result.total
    return {"products": products, "total": {k: _num(t.get(k)) for k in INVENTORY_KEYS if k != "safety_stock"}}


def _bound_rows(result) -> dict:
    products = [{"product": p.product, **{k: _num(p.bound[k]) for k in INVENTORY_KEYS if k in p.bound}, "ratio_to_bound": 1.0}
                for p in result.products]
    prices = [p.price for p in result.products]
    t = total_kpis([p.bound for p in result.products], prices)
    return {"products": products, "total": {**{k: _num(t.get(k)) for k in INVENTORY_KEYS if k in t}, "ratio_to_bound": 1.0}}


def inventory_section(ds: Dataset, store: int, products: list[int], start: dt.date, end: dt.date, safety_stock: str, models_dir=None,
                      model: str = "auto") -> dict:
    honest = evaluate_policy(ds, store, products, start, end, safety_stock, form="sheet", model=model, models_dir=models_dir)
    hindsight = evaluate_policy(ds, store, products, start, end, HINDSIGHT, form="best", model=model, models_dir=models_dir)
    first = honest.products[0]
    stock_days = first.days.filter(pl.col("date") > end - dt.timedelta(days=HISTORY_DAYS))
    return {"start": str(start), "end": str(end), "model": model,
            "commands": {"honest": f"python -m engine inventory --data {ds.folder} --store {store} --products {','.join(map(str, products))} --test-start {start} "
                                   f"--test-end {end} --safety-stock {safety_stock} --form sheet --model {model} --json",
                         "hindsight": f"python -m engine inventory --data {ds.folder} --store {store} --products {','.join(map(str, products))} --test-start {start} "
                                      f"--test-end {end} --safety-stock {HINDSIGHT} --form best --model {model} --json"},
            "policies": [{"policy": "honest", "setting": safety_stock, **_policy_rows(honest)},
                         {"policy": "hindsight", "setting": HINDSIGHT, **_policy_rows(hindsight)},
                         {"policy": "bound", "setting": "perfect foresight", **_bound_rows(honest)}],
            "stock_chart": {"product": first.product,
                            "days": [{k: (str(v) if k == "date" else _num(v)) for k, v in r.items()}
                                     for r in stock_days.select("date", "opening", "closing", "arrivals", "lost").iter_rows(named=True)]}}


# ---------------------------------------------------------------- the report

def build_report(ds: Dataset, store: int, products, windows, lang: str = "en", models: str = "auto", safety_stock: str = "service-level:0.99",
                 models_dir=None, progress=None, inventory_model: str = "auto") -> dict:
    """All numbers of the pilot report for ``store`` and ``products`` over the evaluation ``windows`` (list of (start, end))."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use en or ko.")
    parse_models(models)
    products = store_products(ds, store, products)
    if not windows:
        raise ValueError("no evaluation window was given; use e.g. --windows 2016-07..2016-12.")
    windows = sorted(windows)
    for s, e in windows:
        if s > ds.end or e > ds.end:
            raise ValueError(f"the window {s}..{e} ends after the data ({ds.end}); pick windows inside the data.")
    span_start, span_end = windows[0][0], windows[-1][1]
    report = {"title": "K-Mart pilot report", "store": int(store), "products": products, "lang": lang, "models": models,
              "safety_stock": safety_stock, "windows": [{"start": str(s), "end": str(e)} for s, e in windows],
              "inventory_model": inventory_model,
              "command": reproduce_command(ds.folder, store, products, windows, lang, models, safety_stock, inventory_model=inventory_model)}
    report["data"] = data_section(ds, store)
    report["patterns"] = [pattern_section(ds, store, p, ds.start, span_end) for p in products]
    runs = backtest(ds, store, products, windows, models, models_dir, progress)
    report["forecast"] = {"target": "Qty on day t + LeadTime, forecast at 22:00 of day t from data up to t",
                          "models": list(parse_models(models)), "baseline": REFERENCE_BASELINE,
                          "products": [forecast_product([runs[w][i] for w in range(len(windows))], windows) for i in range(len(products))]}
    report["inventory"] = inventory_section(ds, store, products, span_start, span_end, safety_stock, models_dir, inventory_model)
    report["next_steps"] = next_steps(report, lang)
    return report
