"""Rolling monthly evaluation: what a forecaster trusts before believing a model choice.

For each window (by default each of the last 6 whole months of the data) and each product of the
store, every candidate is trained only on days before the window (the choice and the calibration
errors from selection folds before it too), then forecasts every day of the window from the
evening LeadTime days earlier. Per product and window: RMSE, WAPE, MASE, bias of every candidate,
the chosen model, its regret (chosen WAPE / best single candidate's WAPE - 1), the coverage and
pinball loss of the lead-window total's quantiles, and statsforecast peers (AutoETS, MSTL weekly +
yearly, AutoTheta) forecasting the same days at the same horizon, fitted on the same history
(``cross_validation`` with ``refit=False``: one fit before the window, then rolled forward).
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.data.dataset import Dataset
from engine.forecasting.backtest import predict_window
from engine.forecasting.lead_window import calibration_errors, quantiles_from_errors
from engine.forecasting.metrics import rmse, seasonal_naive_scale, wape
from engine.forecasting.models import REFERENCE_BASELINE, parse_models
from engine.forecasting.quantiles import LEVELS
from engine.forecasting.series import Series
from engine.forecasting.training import train_models

PEERS = ("AutoETS", "MSTL", "AutoTheta")


def monthly_windows(ds: Dataset, months: int = 6) -> list[tuple[dt.date, dt.date]]:
    """The last ``months`` whole calendar months of the data, oldest first."""
    end = ds.end
    last_month_end = end if (end + dt.timedelta(days=1)).day == 1 else end.replace(day=1) - dt.timedelta(days=1)
    out = []
    first = last_month_end.replace(day=1)
    for _ in range(months):
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        out.append((first, last))
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return out[::-1]


def point_metrics(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict:
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    ok = np.isfinite(a) & np.isfinite(f)
    a, f = a[ok], f[ok]
    mae = float(np.mean(np.abs(a - f))) if a.size else math.nan
    return {"rmse": rmse(a, f), "wape": wape(a, f), "mase": mae / scale if scale and scale > 0 else math.nan,
            "bias": float(np.sum(f - a) / np.sum(np.abs(a))) if np.sum(np.abs(a)) > 0 else math.nan}


def pinball(actual: np.ndarray, quantile: np.ndarray, level: float) -> float:
    d = np.asarray(actual, float) - np.asarray(quantile, float)
    return float(np.mean(np.maximum(level * d, (level - 1) * d)))


@dataclass
class Evaluation:
    store: int
    windows: list[tuple[dt.date, dt.date]]
    rows: list[dict] = field(default_factory=list)  # product, window, model, rmse, wape, mase, bias, chosen
    choices: list[dict] = field(default_factory=list)  # product, window, chosen, regret, best_single
    coverage: list[dict] = field(default_factory=list)  # product, window, level, covered, n, pinball, mean_total
    seconds: dict = field(default_factory=dict)

    def table(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows)

    def summary(self) -> list[dict]:
        """Per model: WAPE averaged over products and windows (and the other metrics), 'chosen' included."""
        t = self.table()
        return (t.group_by("model").agg(pl.col("wape").mean(), pl.col("rmse").mean(), pl.col("mase").mean(), pl.col("bias").mean(),
                                         pl.len().alias("n")).sort("wape").to_dicts())

    def per_product(self) -> list[dict]:
        """Per product and model: the metrics averaged over the windows."""
        t = self.table()
        return (t.group_by("product", "model").agg(pl.col("wape").mean(), pl.col("rmse").mean(), pl.col("mase").mean(),
                                                   pl.col("bias").mean(), pl.len().alias("windows")).sort("product", "wape").to_dicts())

    def coverage_summary(self) -> list[dict]:
        c = pl.DataFrame(self.coverage)
        return (c.group_by("level").agg((pl.col("covered").sum() / pl.col("n").sum()).alias("coverage"),
                                        (pl.col("pinball") * pl.col("n")).sum().alias("_p"), pl.col("n").sum(),
                                        (pl.col("mean_total") * pl.col("n")).sum().alias("_m"))
                .with_columns((pl.col("_p") / pl.col("_m")).alias("scaled_pinball")).drop("_p", "_m").sort("level").to_dicts())

    def regret(self) -> dict:
        r = [c["regret"] for c in self.choices]
        return {"mean": float(np.mean(r)) if r else math.nan, "max": float(np.max(r)) if r else math.nan,
                "chosen": {m: sum(1 for c in self.choices if c["chosen"] == m) for m in sorted({c["chosen"] for c in self.choices})}}


def _origins_for_totals(window: tuple[dt.date, dt.date], lead: int) -> list[dt.date]:
    """Closes whose whole lead window d+1..d+L lies inside the window."""
    first, last = window
    n = (last - first).days - lead + 2
    return [first - dt.timedelta(days=1) + dt.timedelta(days=i) for i in range(max(n, 0))]


def evaluate(ds: Dataset, store: int, products=None, windows=None, models="auto", models_dir=None, peers=PEERS,
             progress=None) -> Evaluation:
    """Rolling evaluation (see the module docstring); ``models_dir`` None: fitted models go to a temporary folder;
    ``peers``: the statsforecast peers to run (True = all, False or () = none)."""
    peers = PEERS if peers is True else tuple(peers or ())
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer {unknown[0]!r}; choose from {', '.join(PEERS)}.")
    products = [int(p) for p in (products or sorted(ds.sales.filter(pl.col("Store_ID") == store)["Product_ID"].unique()))]
    windows = windows or monthly_windows(ds)
    names = parse_models(models)
    ev = Evaluation(int(store), list(windows))
    with tempfile.TemporaryDirectory() as tmp:
        _evaluate_models(ev, ds, store, products, windows, names, models_dir if models_dir is not None else tmp, progress)
    if peers:
        t0 = time.perf_counter()
        for row in statsforecast_peers(ds, store, products, windows, peers):
            ev.rows.append(row)
        ev.seconds["peers"] = time.perf_counter() - t0
    return ev


def _evaluate_models(ev, ds, store, products, windows, names, models_dir, progress) -> None:
    t_models = 0.0
    for product in products:
        series = Series(ds, store, product)
        L = series.lead_time
        horizons = tuple(range(1, L + 1))
        for first, last in windows:
            t0 = time.perf_counter()
            trained, chosen = train_models(names, series, horizons, first, models_dir)
            scale = seasonal_naive_scale(series.before(first).qty)
            wapes = {}
            preds_of = {}
            for name, t in trained.items():
                p = predict_window(t.model, series, first - dt.timedelta(days=L), last)
                preds_of[name] = p
                at_lead = p.filter((pl.col("horizon") == L) & pl.col("target_date").is_between(first, last))
                m = point_metrics(at_lead["actual"].to_numpy(), at_lead["forecast"].to_numpy(), scale)
                wapes[name] = m["wape"]
                ev.rows.append({"product": product, "window": str(first)[:7], "model": name, **m, "chosen": name == chosen})
            m = [r for r in ev.rows if r["product"] == product and r["window"] == str(first)[:7] and r["model"] == chosen][0]
            ev.rows.append({**m, "model": "chosen", "chosen": False})
            singles = {n: w for n, w in wapes.items() if n != "ensemble" and math.isfinite(w)}
            best = min(singles, key=singles.get)
            ev.choices.append({"product": product, "window": str(first)[:7], "chosen": chosen, "best_single": best,
                               "regret": wapes[chosen] / singles[best] - 1 if singles[best] > 0 else 0.0})
            _coverage(ev, series, trained[chosen], preds_of[chosen], (first, last), product)
            t_models += time.perf_counter() - t0
            if progress:
                progress(f"product {product} window {first:%Y-%m}: chosen {chosen}")
    ev.seconds["models"] = t_models


def _coverage(ev: Evaluation, series: Series, fitted, preds: pl.DataFrame, window, product: int) -> None:
    L = series.lead_time
    errors, weekdays, origins = calibration_errors(fitted.cv.predictions, range(1, L + 1))
    closes = _origins_for_totals(window, L)
    wide = preds.pivot(on="horizon", index="origin", values="forecast").sort("origin")
    fc = {r["origin"]: [r[str(h)] for h in range(1, L + 1)] for r in wide.iter_rows(named=True)}
    totals, qs = [], {lv: [] for lv in LEVELS}
    for d in closes:
        point = np.array(fc[d], dtype=float)
        q = quantiles_from_errors(series, d, point, fitted.name, errors, weekdays, origins)
        ti = series.index(d)
        totals.append(float(series.qty[ti + 1: ti + L + 1].sum()))
        for lv in LEVELS:
            qs[lv].append(q.total_quantile(lv))
    totals = np.array(totals)
    for lv in LEVELS:
        qv = np.array(qs[lv])
        ev.coverage.append({"product": product, "window": str(window[0])[:7], "level": lv, "covered": int(np.sum(totals <= qv)),
                            "n": len(totals), "pinball": pinball(totals, qv, lv), "mean_total": float(np.mean(totals))})


def statsforecast_peers(ds: Dataset, store: int, products, windows, models=PEERS) -> list[dict]:
    """AutoETS, MSTL (7 + 365) and AutoTheta forecasts of every window day at h = LeadTime, one fit per window.

    MSTL re-runs its yearly STL decomposition at every rolled origin (about 20 s of CPU per series and
    month), so it is by far the slowest peer; ``models`` picks a subset."""
    import os

    os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, AutoTheta

    rows = []
    for product in products:
        series = Series(ds, store, product)
        L = series.lead_time
        for first, last in windows:
            n_days = (last - first).days + 1
            cut = series.index(last) + 1
            df = pd.DataFrame({"unique_id": f"{store}/{product}", "ds": pd.to_datetime(series.dates[:cut]), "y": series.qty[:cut]})
            make = {"AutoETS": lambda: AutoETS(season_length=7), "MSTL": lambda: MSTL(season_length=[7, 365]),
                    "AutoTheta": lambda: AutoTheta(season_length=7)}
            sf = StatsForecast(models=[make[m]() for m in models], freq="D", n_jobs=1)
            cv = sf.cross_validation(df=df, h=L, step_size=1, n_windows=n_days, refit=False)
            cv = pl.from_pandas(cv.reset_index() if "unique_id" not in cv.columns else cv)
            cv = cv.with_columns(pl.col("ds").cast(pl.Date), pl.col("cutoff").cast(pl.Date))
            cv = cv.filter((pl.col("ds") - pl.col("cutoff")).dt.total_days() == L)
            scale = seasonal_naive_scale(series.before(first).qty)
            for name in models:
                col = name if name in cv.columns else next(c for c in cv.columns if c.startswith(name))
                m = point_metrics(cv["y"].to_numpy(), np.clip(cv[col].to_numpy(), 0, None), scale)
                rows.append({"product": product, "window": str(first)[:7], "model": f"sf_{name}", **m, "chosen": False})
    return rows
