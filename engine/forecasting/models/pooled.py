"""A pooled LightGBM model: one booster per horizon trained across every product of the store (and stores given).

The way the Favorita and M5 winners did it: rows of all series in one table, product and store as
categorical features, the target made comparable across series by scaling. Row (series, origin t,
horizon h) describes the target day T = t + h with what is known at 22:00 of day t:

- base  = mean of the last 4 days with T's weekday (all <= t: the weekday-mean-4 reference) and
  scale = mean of the last 28 days up to t; the booster learns (y_T - base) / scale, so the forecast
  is base + scale * booster(x) and a level shift of one product does not confuse the others;
- same-weekday lags and recent values divided by the scale, trend ratios (7 vs 28 days, 28 vs the
  28 before, the same day a year earlier, and last year's seasonal index of the target day: its sales
  over the 28-day mean at last year's origin);
- the calendar of T, known ahead: weekday, day of month, month, holiday (``holidays.csv``), days to
  and from the nearest holiday, payday (15th and month end); a closed day (Christmas, or a calendar
  date with no sales in every earlier year, such as 1 January) is forecast 0 by rule and left out
  of training;
- the store's customers (visits) and its city's and state's, on day t and on T's last same weekday,
  each relative to its own 28-day mean;
- promotions of day T when the sales table has a promotion column (planned, so known ahead).

Per-prediction SHAP values come from LightGBM itself (``predict(..., pred_contrib=True)``); times
the scale, they split the forecast into the baseline and buyer-sized groups that sum to it exactly.
A booster is fitted once per (data, stores, cut-off, horizon, params) and shared by the store's
products (whatever their lead times), so a backtest over 7 products fits it once, not seven times.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings

import numpy as np
import polars as pl

from engine.data.calendar import is_closed_expr, is_payday_expr
from engine.data.memo import dataset_memo
from engine.data.features import customer_features, daily_sales
from engine.forecasting.models.base import Forecaster
from engine.forecasting.series import Series

FEATURES = [
    "product", "store",
    "sw1", "sw2", "sw3", "sw4", "base_s", "qty_t", "qty_t1", "sw_std",
    "trend_7_28", "trend_28_56", "yoy", "yoy_season",
    "t_weekday", "t_dom", "t_month", "t_holiday", "t_to_holiday", "t_from_holiday", "t_payday", "t_closed", "t_promo",
    "cust_t", "cust_sw", "city_t", "state_t",
]
GROUPS = {
    "product": "recent sales", "store": "recent sales", "sw1": "recent sales", "sw2": "recent sales", "sw3": "recent sales",
    "sw4": "recent sales", "base_s": "recent sales", "qty_t": "recent sales", "qty_t1": "recent sales",
    "sw_std": "recent sales",
    "trend_7_28": "trend", "trend_28_56": "trend", "yoy": "trend", "yoy_season": "trend", "t_month": "trend",
    "t_weekday": "weekday",
    "t_dom": "holiday/payday", "t_holiday": "holiday/payday", "t_to_holiday": "holiday/payday", "t_from_holiday": "holiday/payday",
    "t_payday": "holiday/payday", "t_closed": "holiday/payday", "t_promo": "promotion",
    "cust_t": "customers", "cust_sw": "customers", "city_t": "customers", "state_t": "customers",
}
GROUP_ORDER = ("weekday", "holiday/payday", "customers", "trend", "recent sales", "promotion")
MIN_HISTORY = 56  # days of history before a training origin (lags and scales)

def training_threads() -> int:
    """Threads for one booster fit: ``OMP_NUM_THREADS`` when set (the batch's workers set 1), else the machine's
    cores, at most 4. LightGBM's ``deterministic`` with column-wise histograms gives the same trees whatever the
    thread count (checked: identical predictions with 1 and 2 threads), so the order sheet (both cores) and the
    nightly batch (one per worker) train the same model."""
    try:
        given = int(os.environ.get("OMP_NUM_THREADS", "") or 0)
    except ValueError:
        given = 0
    return given if given > 0 else max(1, min(4, os.cpu_count() or 1))


def _holder(ds) -> dict:
    """Per-Dataset memo of panels and boosters (a changed copy of the data never shares it)."""
    return dataset_memo(ds).setdefault("pooled", {})


def _rolling_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of x[t-w+1 .. t] (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
    idx = np.arange(len(x))
    lo = np.maximum(idx - w + 1, 0)
    return (c[idx + 1] - c[lo]) / (idx + 1 - lo)


class Panel:
    """Daily arrays of one store's products, customers and the calendar (index 0 = ds.start)."""

    def __init__(self, ds, store: int):
        self.store = int(store)
        self.start = ds.start
        days = pl.date_range(ds.start, ds.end + dt.timedelta(days=400), "1d", eager=True)
        self.n = int((ds.end - ds.start).days) + 1
        sales = daily_sales(ds, stores=store)
        self.qty = {int(p): g.sort("Date")["Qty"].to_numpy().astype(float) for (p,), g in sales.group_by("Product_ID")}
        promo_col = next((c for c in ds.sales.columns if "promo" in c.lower()), None)
        self.promo = {}
        if promo_col:
            pr = ds.sales.filter(pl.col("Store_ID") == store).select("Product_ID", "Date", pl.col(promo_col).cast(pl.Float64))
            for (p,), g in pr.group_by("Product_ID"):
                arr = np.zeros(len(days))
                idx = np.array([(d - ds.start).days for d in g["Date"].to_list()], dtype=int)
                arr[idx] = np.nan_to_num(g[promo_col].to_numpy())
                self.promo[int(p)] = arr
        cust = customer_features(ds).filter(pl.col("Store_ID") == store).sort("Date")
        self.cust = {c: cust[c].to_numpy().astype(float) for c in ("customers", "city_customers", "state_customers")}
        cal = pl.DataFrame({"Date": days}).with_columns(
            pl.col("Date").is_in(ds.holidays["Date"].implode()).alias("holiday"),
            is_payday_expr(pl.col("Date")).alias("payday"),
            is_closed_expr(pl.col("Date")).alias("closed"),
        )
        self.dates = days
        self.weekday = np.array([d.weekday() for d in days.to_list()], dtype=float)
        self.dom = days.dt.day().to_numpy().astype(float)
        self.month = days.dt.month().to_numpy().astype(float)
        self.holiday = cal["holiday"].to_numpy().astype(float)
        self.payday = cal["payday"].to_numpy().astype(float)
        self.closed = cal["closed"].to_numpy().astype(float)
        self.closed = np.maximum(self.closed, self._closed_every_year(ds.start, days))
        hol = np.flatnonzero(self.holiday > 0)
        idx = np.arange(len(days))
        nxt = np.searchsorted(hol, idx)
        self.to_holiday = np.where(nxt < len(hol), hol[np.minimum(nxt, len(hol) - 1)] - idx, 99).clip(0, 14).astype(float)
        prv = np.searchsorted(hol, idx, side="right") - 1
        self.from_holiday = np.where(prv >= 0, idx - hol[np.maximum(prv, 0)], 99).clip(0, 14).astype(float)

    def _closed_every_year(self, start: dt.date, days: pl.Series) -> np.ndarray:
        """1 on days whose calendar date had no sales of the store in every earlier year of the data (e.g. 1 January):
        only earlier years are read, so a target day is judged on what was known a year before it."""
        total = np.sum([q for q in self.qty.values()], axis=0) if self.qty else np.zeros(self.n)
        out = np.zeros(len(days))
        for i, d in enumerate(days.to_list()):
            seen = 0
            for k in range(1, 6):
                try:
                    back = d.replace(year=d.year - k)
                except ValueError:  # 29 February
                    break
                j = (back - start).days
                if j < 0 or j >= self.n:
                    break
                if total[j] > 0:
                    seen = -1
                    break
                seen += 1
            out[i] = 1.0 if seen > 0 else 0.0
        return out

    def design(self, product: int, idx: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, base, scale) for origins ``idx`` (indices <= the last known day) and horizon h."""
        q = self.qty[product]
        T = idx + horizon
        first = -(-horizon // 7)
        sw_idx = T[:, None] - 7 * (first + np.arange(4))[None, :]
        sw = np.where(sw_idx >= 0, q[np.clip(sw_idx, 0, None)], np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            base = np.nanmean(sw, axis=1)
            sw_std = np.nanstd(sw, axis=1)
        ma28 = _rolling_mean(q, 28)[idx]
        ma7 = _rolling_mean(q, 7)[idx]
        prev28 = np.where(idx >= 28, _rolling_mean(q, 28)[np.clip(idx - 28, 0, None)], np.nan)
        scale = np.where(ma28 > 1e-9, ma28, 1.0)
        base = np.where(np.isfinite(base), base, ma28)
        yoy_idx = T - 364
        yoy = np.where(yoy_idx >= 0, q[np.clip(yoy_idx, 0, None)], np.nan)
        # last year's seasonal index of the target day: its sales over the 28-day mean at last year's origin, so a
        # yearly ramp (Frozen before Christmas) is carried over at today's level whatever the growth since
        ly = idx - 364
        ma28_ly = np.where(ly >= 0, _rolling_mean(q, 28)[np.clip(ly, 0, None)], np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            yoy_season = np.where(ma28_ly > 1e-9, yoy / ma28_ly, np.nan)
        c = self.cust["customers"]
        cm = _rolling_mean(c, 28)
        cmi = np.where(cm[idx] > 0, cm[idx], 1.0)

        def rel(name):
            a = self.cust[name]
            m = _rolling_mean(a, 28)[idx]
            return np.where(m > 0, a[idx] / np.where(m > 0, m, 1.0), np.nan)

        cust_sw = np.where(sw_idx[:, 0] >= 0, c[np.clip(sw_idx[:, 0], 0, None)], np.nan) / cmi
        promo = self.promo.get(product)
        t_promo = promo[T] if promo is not None else np.full(len(idx), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            X = np.column_stack([
                np.full(len(idx), product, dtype=float), np.full(len(idx), self.store, dtype=float),
                sw / scale[:, None], base / scale, q[idx] / scale, np.where(idx >= 1, q[np.clip(idx - 1, 0, None)], np.nan) / scale,
                sw_std / scale,
                ma7 / scale, np.where(prev28 > 0, ma28 / prev28, np.nan), yoy / scale, yoy_season,
                self.weekday[T], self.dom[T], self.month[T], self.holiday[T], self.to_holiday[T], self.from_holiday[T],
                self.payday[T], self.closed[T], t_promo,
                c[idx] / cmi, cust_sw, rel("city_customers"), rel("state_customers"),
            ])
        return X, base, scale


def panel(ds, store: int) -> Panel:
    memo = _holder(ds)
    if ("panel", store) not in memo:
        memo[("panel", store)] = Panel(ds, store)
    return memo[("panel", store)]


class PooledBoosting(Forecaster):
    name = "pooled_lgbm"
    param_grid = ({"num_leaves": 15, "learning_rate": 0.1, "n_estimators": 150, "max_bin": 63, "min_child_samples": 40,
                   "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0,
                   "objective": "huber", "alpha": 1.0, "history_days": 3 * 365},)

    def __init__(self, stores=None, **params):
        super().__init__(**(params or dict(self.param_grid[0])))
        self.stores = tuple(int(s) for s in stores) if stores else None
        self.features = list(FEATURES)

    def _training_set(self, ds, stores, cutoff_index: int, horizon: int):
        Xs, ys, ws = [], [], []
        history = int(self.params.get("history_days", 3 * 365))
        for s in stores:
            pan = panel(ds, s)
            for p, q in sorted(pan.qty.items()):  # a fixed row order: bagging draws rows by position
                last = cutoff_index - 1 - horizon  # the target day must lie before the cut-off
                first = max(MIN_HISTORY, last - history)
                if last < first:
                    continue
                nz = np.flatnonzero(q[:cutoff_index] > 0)
                if nz.size == 0:
                    continue
                first = max(first, int(nz[0]) + MIN_HISTORY)  # a product that starts later: from its first sale
                if last < first:
                    continue
                idx = np.arange(first, last + 1)
                X, base, scale = pan.design(p, idx, horizon)
                y = (q[idx + horizon] - base) / scale
                ok = np.isfinite(y) & (pan.closed[idx + horizon] == 0)  # closed days are forecast 0 by rule
                Xs.append(X[ok])
                ys.append(y[ok])
                ws.append(0.5 + (idx[ok] - first) / max(last - first, 1))  # recent rows count up to 3x the oldest
        if not Xs:  # e.g. a store that opened less than MIN_HISTORY days before the cut-off
            return np.empty((0, len(FEATURES))), np.empty(0), np.empty(0)
        return np.vstack(Xs), np.concatenate(ys), np.concatenate(ws)

    def fit(self, series: Series, horizons, progress=None):
        super().fit(series, horizons)
        import lightgbm as lgb

        ds = series.ds
        stores = self.stores or (series.store,)
        if series.store not in stores:
            stores = (series.store, *stores)
        self._stores = stores
        cutoff_index = len(series.qty)  # rows dated before the cut-off are known
        memo = _holder(ds)
        params = {k: v for k, v in self.params.items() if k != "history_days"}
        boosters = []
        for i, h in enumerate(self.horizons):
            # one booster per (stores, cut-off, horizon, params): products with other lead times share the horizons they have in common
            key = ("booster", tuple(stores), cutoff_index, h, tuple(sorted(self.params.items())))
            if key not in memo:
                X, y, w = self._training_set(ds, stores, cutoff_index, h)
                if len(y) < 60:
                    raise ValueError(f"only {len(y)} training rows for store {series.store}; give at least 60 days of history before the forecast start.")
                model = lgb.LGBMRegressor(random_state=0, n_jobs=training_threads(), deterministic=True, force_col_wise=True,
                                          verbose=-1, **params)
                model.fit(X, y, sample_weight=w, feature_name=FEATURES, categorical_feature=["product", "store"])
                memo[key] = model.booster_
                if progress:
                    progress(self.name, (i + 1) / len(self.horizons), f"horizon {h} fitted on {len(y):,} pooled rows")
            boosters.append(memo[key])
        self._boosters = boosters
        return self

    def _rows(self, series: Series, origins):
        idx = self._origin_index(series, origins)
        return panel(series.ds, series.store), idx

    def predict(self, series: Series, origins) -> np.ndarray:
        pan, idx = self._rows(series, origins)
        cols = []
        for h, booster in zip(self.horizons, self._boosters):
            X, base, scale = pan.design(series.product, idx, h)
            f = base + scale * booster.predict(X, num_threads=1)
            cols.append(np.where(pan.closed[idx + h] > 0, 0.0, f))
        return np.column_stack(cols)

    def contributions(self, series: Series, origin: dt.date) -> list[dict]:
        """Per horizon: base, scale, the SHAP value of every feature (scaled space) and the bias."""
        pan, idx = self._rows(series, [origin])
        out = []
        for h, booster in zip(self.horizons, self._boosters):
            X, base, scale = pan.design(series.product, idx, h)
            contrib = booster.predict(X, pred_contrib=True, num_threads=1)[0]
            out.append({"horizon": h, "base": float(base[0]), "scale": float(scale[0]), "closed": bool(pan.closed[idx[0] + h] > 0),
                        "shap": dict(zip(FEATURES, map(float, contrib[:-1]))), "bias": float(contrib[-1])})
        return out

    def explain(self, series: Series, close: dt.date, point: np.ndarray) -> list[dict]:
        """Buyer's words per day: baseline (recent same-weekday level + the model's average correction) and
        the contributions of weekday, holiday/payday, customers, trend, recent sales; they sum to the forecast."""
        out = []
        for j, c in enumerate(self.contributions(series, close)):
            s = c["scale"]
            groups = {g: 0.0 for g in GROUP_ORDER}
            for f, v in c["shap"].items():
                groups[GROUPS[f]] += s * v
            if not panel(series.ds, series.store).promo:
                groups.pop("promotion")
            baseline = c["base"] + s * c["bias"]
            raw = baseline + sum(groups.values())
            if c["closed"]:
                groups["store closed"] = -raw
            elif float(point[j]) != raw and raw < 0:
                groups["no negative demand"] = float(point[j]) - raw
            out.append({"day": str(close + dt.timedelta(days=c["horizon"])), "horizon": c["horizon"],
                        "recent_same_weekday_mean": c["base"], "baseline": baseline,
                        "contributions": groups, "forecast": float(point[j])})
        return out


