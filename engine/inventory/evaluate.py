"""Evaluate a safety-stock policy on a window: simulation, KPIs, the perfect-foresight bound.

``evaluate_policy`` is what the CLI (`python -m engine inventory`), the Inventory page and the
benchmark call; ``compare_policies`` runs several policies on the same forecasts. Two families:

- form ``sheet`` (the default of the page and the CLI): the order sheet's own rule replayed without
  hindsight (``evaluate_quantile_policy``): models trained before each calendar month of the window,
  on the days before its warm-up evening w = start − L − 1, every order day t forecasting t+1 .. t+L
  from observations up to t, and each evening's safety stock computed exactly as the sheet computes it
  that evening (``engine.inventory.quantile_policy.order_up_to_safety``);
- forms ``constant`` / ``proportional`` / ``weekday`` / ``best``: the seed pilot's rule, one safety stock
  for the whole window from models trained before the validation days that precede it
  (``engine.inventory.safety``), and the hindsight minimum (which uses the future).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.data.dataset import store_products
from engine.forecasting import lead_window_forecasts
from engine.forecasting.lead_window import calibration_errors, quantiles_from_errors, train_for_close
from engine.forecasting.series import Series
from engine.inventory.bound import perfect_foresight
from engine.inventory.forecasts import LeadWindow, _from_frame, lead_window, store_view
from engine.inventory.kpis import product_kpis, ratio, total_kpis
from engine.inventory.policy import evaluated, run_policy
from engine.inventory.quantile_policy import DEMAND_DAYS, order_up_to_safety, parse_policy
from engine.inventory.safety import HINDSIGHT_SPECS, SafetyPlan, check_form, make_plan, parse_safety_stock

DAY_COLUMNS = ("date", "demand", "opening", "arrivals", "sold", "lost", "closing", "in_transit", "lead_forecast", "safety_stock", "order")
KPI_KEYS = ("avg_stock_qty", "avg_inventory_value", "turnover", "lost_qty", "lost_value", "fill_rate", "stockout_days", "days_of_cover")


@dataclass
class ProductInventory:
    store: int
    product: int
    lead_time: int
    price: float
    model: str
    plan: SafetyPlan
    days: pl.DataFrame  # one row per evaluated day: DAY_COLUMNS
    kpis: dict
    bound: dict  # the perfect-foresight KPIs on the same days

    @property
    def ratio_to_bound(self) -> float | None:
        return ratio(self.kpis["avg_stock_qty"], self.bound["avg_stock_qty"])

    @property
    def safety_stock(self) -> float:
        """Average safety stock over the evaluated days (units)."""
        return float(self.days["safety_stock"].mean()) if self.days.height else 0.0

    def to_dict(self) -> dict:
        return {
            "store": self.store, "product": self.product, "lead_time": self.lead_time, "price": self.price, "model": self.model,
            "safety_stock": self.safety_stock, "safety_form": self.plan.form, "safety_label": self.plan.label,
            "safety_method": self.plan.method, "safety_parameter": self.plan.parameter, "safety_note": self.plan.note,
            **{k: self.kpis[k] for k in KPI_KEYS}, "demand_qty": self.kpis["demand_qty"], "sold_qty": self.kpis["sold_qty"],
            "bound_avg_stock_qty": self.bound["avg_stock_qty"], "bound_avg_inventory_value": self.bound["avg_inventory_value"],
            "ratio_to_bound": self.ratio_to_bound,
            "days": [{**r, "date": str(r["date"])} for r in self.days.select(
                "date", "opening", "arrivals", "sold", "lost", "closing", "order", "demand", "in_transit", "safety_stock").iter_rows(named=True)],
        }


@dataclass
class InventoryResult:
    store: int
    start: dt.date
    end: dt.date
    policy: str  # the safety stock spec
    form: str
    pack_size: int
    products: list[ProductInventory] = field(default_factory=list)

    @property
    def total(self) -> dict:
        prices = [p.price for p in self.products]
        out = total_kpis([p.kpis for p in self.products], prices)
        bound = total_kpis([p.bound for p in self.products], prices)
        out["bound_avg_inventory_value"] = bound.get("avg_inventory_value", 0.0)
        out["bound_avg_stock_qty"] = bound.get("avg_stock_qty", 0.0)
        out["ratio_to_bound"] = ratio(out.get("avg_inventory_value", 0.0), out["bound_avg_inventory_value"])
        return out

    def to_dict(self) -> dict:
        return {"store": self.store, "start": str(self.start), "end": str(self.end), "policy": self.policy, "form": self.form,
                "pack_size": self.pack_size, "results": [p.to_dict() for p in self.products], "total": self.total}

    def kpi_table(self) -> pl.DataFrame:
        """One row per product plus a 'total' row: safety stock, KPIs, bound and ratio."""
        rows = [{"product": str(p.product), "safety_stock": p.safety_stock, "safety_form": p.plan.label,
                 **{k: p.kpis[k] for k in KPI_KEYS}, "bound_avg_stock_qty": p.bound["avg_stock_qty"], "ratio_to_bound": p.ratio_to_bound}
                for p in self.products]
        t = self.total
        rows.append({"product": "total", "safety_stock": None, "safety_form": "",
                     **{k: t.get(k) for k in KPI_KEYS}, "bound_avg_stock_qty": t["bound_avg_stock_qty"], "ratio_to_bound": t["ratio_to_bound"]})
        return pl.DataFrame(rows, infer_schema_length=None)

    def days(self) -> pl.DataFrame:
        """Every product's evaluated days with a product column (for charts)."""
        if not self.products:
            return pl.DataFrame()
        return pl.concat([p.days.with_columns(pl.lit(p.product).alias("product")) for p in self.products])


def simulate_product(ds, lw: LeadWindow, plan: SafetyPlan, pack_size: int = 1) -> ProductInventory:
    """Run ``plan`` on ``lw``'s window and measure it against the perfect-foresight bound."""
    price = ds.price(lw.product)
    ss = plan.values(lw.lead_forecast, lw.weekdays)
    sim = run_policy(lw, ss, pack_size)
    ev = evaluated(sim)
    days = lw.dates[lw.first:]
    frame = pl.DataFrame({"date": days, **{k: ev[k] for k in ("demand", "opening", "arrivals", "sold", "lost", "closing", "in_transit")},
                          "lead_forecast": lw.lead_forecast[lw.first:], "safety_stock": ss[lw.first:], "order": ev["order"]})
    kpis = product_kpis(ev["opening"], ev["closing"], ev["sold"], ev["lost"], price)
    b = perfect_foresight(lw.demand[lw.first:], lw.lead_time)
    bound = product_kpis(b.opening, b.closing, b.sold, b.lost, price)
    return ProductInventory(lw.store, lw.product, lw.lead_time, price, lw.model, plan, frame.select(DAY_COLUMNS), kpis, bound)


def evaluate_policy(ds, store: int, products, start: dt.date, end: dt.date, safety_stock="service-level:0.99", form: str = "best",
                    pack_size: int = 1, model: str = "auto", models_dir=None) -> InventoryResult:
    """Simulate [start, end] for each product under the order-up-to policy with the given safety stock.

    ``safety_stock``: 'min-zero-loss' (hindsight, uses the future), 'service-level[:0.99]', 'quantile:Q' and
    'cost[:RATE]' (form sheet only) or a number of units; ``form``: sheet (the order sheet's rule, see the module
    docstring) | constant | proportional | weekday | best (the seed's rule)."""
    check_form(form)
    if int(pack_size) < 1:
        raise ValueError(f"the pack size must be a whole number of at least 1, not {pack_size}.")
    if form == "sheet":
        if str(safety_stock).strip().lower() in HINDSIGHT_SPECS:
            form = "constant"  # the hindsight minimum is one constant searched on the window's demand
        else:
            return evaluate_quantile_policy(ds, store, products, start, end, safety_stock, model, models_dir, int(pack_size))
    parse_safety_stock(safety_stock)
    result = InventoryResult(int(store), start, end, str(safety_stock), form, int(pack_size))
    for p in store_products(ds, store, products):
        lw = lead_window(ds, store, p, start, end, model=model, models_dir=models_dir)
        plan = make_plan(lw, safety_stock, form, int(pack_size))
        result.products.append(simulate_product(ds, lw, plan, int(pack_size)))
    return result


def quantile_window(ds, store: int, product: int, start: dt.date, end: dt.date, model: str = "auto", models_dir=None):
    """(LeadWindow over the warm-up and [start, end], the chosen model's calibration errors (n, L), their origin
    weekdays and origins, the Series): models trained strictly before the warm-up evening start − L − 1."""
    L = ds.lead_time(int(product))
    w = start - dt.timedelta(days=L + 1)
    view = store_view(ds, store)
    frame = lead_window_forecasts(view, store, product, w, end, model=model, models_dir=models_dir)
    lw = _from_frame(frame, store, product, L, start)
    series = Series(view, store, product)
    chosen, _ = train_for_close(view, store, product, w - dt.timedelta(days=1), model, models_dir)  # reloaded from the folder
    errors, weekdays, origins = calibration_errors(chosen.cv.predictions, range(1, L + 1))
    return lw, errors, weekdays, origins, series


def replay_safety(spec, lw, errors, weekdays, origins, series, price: float) -> tuple[np.ndarray, np.ndarray, str]:
    """(safety stock per order day of ``lw``, level per order day, why) computed each evening exactly as the
    sheet would at that close: errors rescaled to the day's level, the close's mean daily demand over the
    last DEMAND_DAYS days (all known at 22:00 of that day)."""
    safety, levels, why = np.zeros(len(lw.dates)), np.zeros(len(lw.dates)), ""
    for i, day in enumerate(lw.dates):
        q = quantiles_from_errors(series, day, lw.forecasts[i], lw.model, errors, weekdays, origins)
        t = series.index(day)
        mean_demand = float(np.mean(series.qty[max(0, t - DEMAND_DAYS + 1): t + 1]))
        levels[i], safety[i], why = order_up_to_safety(spec, q, mean_demand, price)
    return safety, levels, why


def month_chunks(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """[start, end] cut at calendar-month ends: the replay retrains its models before each piece."""
    out, a = [], start
    while a <= end:
        b = min(end, (a.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))
        out.append((a, b))
        a = b + dt.timedelta(days=1)
    return out


def replay_product(ds, store: int, product: int, start: dt.date, end: dt.date, spec, model: str = "auto", models_dir=None):
    """(LeadWindow over the warm-up and [start, end], safety stock per order day, mean level, why) of the sheet's rule.

    The sheet retrains every night; the replay retrains before each calendar month of the window (models trained
    strictly before that month's warm-up evening, its calibration errors from their folds), so a six-month window
    is not forecast by a model six months old. The pieces are joined into one window: the stock carries over."""
    kind, _ = parse_policy(spec)
    parts, safety, levels, why = [], [], [], ""
    for a, b in month_chunks(start, end):
        lw, errors, weekdays, origins, series = quantile_window(ds, store, product, a, b, model, models_dir)
        keep = slice(0 if not parts else lw.first, None)  # the first piece brings its warm-up evenings
        if kind == "fixed":
            s, lv = np.zeros(len(lw.dates)), np.zeros(len(lw.dates))
        else:
            s, lv, why = replay_safety(spec, lw, errors, weekdays, origins, series, ds.price(product))
        parts.append((lw, keep))
        safety.append(s[keep])
        levels.append(lv[lw.first:])
    first = parts[0][0]
    joined = LeadWindow(first.store, first.product, first.lead_time, " / ".join(dict.fromkeys(lw.model for lw, _ in parts)),
                        [d for lw, k in parts for d in lw.dates[k]], np.concatenate([lw.demand[k] for lw, k in parts]),
                        np.vstack([lw.forecasts[k] for lw, k in parts]), np.vstack([lw.actuals[k] for lw, k in parts]), first.first)
    return joined, np.concatenate(safety), float(np.mean(np.concatenate(levels))), why


def evaluate_quantile_policy(ds, store: int, products, start: dt.date, end: dt.date, spec="service-level:0.99", model: str = "auto",
                             models_dir=None, pack_size: int = 1) -> InventoryResult:
    """Replay the order sheet's policy on [start, end] (see the module docstring and ``replay_product``)."""
    kind, value = parse_policy(spec)
    result = InventoryResult(int(store), start, end, str(spec), "sheet", int(pack_size))
    for p in store_products(ds, store, products):
        lw, safety, level, why = replay_product(ds, store, p, start, end, spec, model, models_dir)
        if kind == "fixed":
            plan = SafetyPlan("fixed", "constant", float(value))
        else:
            plan = SafetyPlan("service-level", "daily", 1.0, by_day=tuple(safety), level=level, estimator="calibration quantile",
                              note=why)
        result.products.append(simulate_product(ds, lw, plan, int(pack_size)))
    return result


def compare_policies(ds, store: int, products, start: dt.date, end: dt.date, fixed: float | None = None,
                     levels=(0.95, 0.99, 0.995), form: str = "best", pack_size: int = 1, model: str = "auto",
                     models_dir=None) -> pl.DataFrame:
    """One row per policy (fixed, hindsight minimum, service levels) with the totals over the products."""
    specs = ([(f"fixed {fixed:,.0f} units", str(fixed))] if fixed is not None else []) + [("hindsight minimum (uses the future)", "min-zero-loss")]
    specs += [(f"service level {lv:.1%}".replace(".0%", "%"), f"service-level:{lv}") for lv in levels]
    rows = []
    for name, spec in specs:
        r = evaluate_policy(ds, store, products, start, end, spec, form, pack_size, model, models_dir)
        t = r.total
        rows.append({"policy": name, "setting": spec,
                     "forms": ", ".join(f"{p.product}: {p.plan.form}" for p in r.products),
                     **{k: t.get(k) for k in KPI_KEYS}, "bound_avg_inventory_value": t["bound_avg_inventory_value"],
                     "ratio_to_bound": t["ratio_to_bound"]})
    return pl.DataFrame(rows, infer_schema_length=None)
