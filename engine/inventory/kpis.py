"""Inventory KPIs of a simulated period, per product and in total.

Per product (over the evaluated days):
- avg_stock_qty: mean of (opening + closing) / 2
- avg_inventory_value: avg_stock_qty x Price x 50% (stock is valued at half the shelf price)
- turnover: units sold / avg_stock_qty
- lost_qty, lost_value (lost units x Price), fill_rate = sold / demand (1 when nothing was asked)
- stockout_days: days with lost sales; days_of_cover: avg_stock_qty / average units sold per day
Totals add quantities and values; total turnover and days of cover are computed on values
(stock valued at cost), so one product's units do not swamp another's; the total fill rate is units.
"""

from __future__ import annotations

import math

import numpy as np

STOCK_VALUE_SHARE = 0.5


def _safe(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def product_kpis(opening, closing, sold, lost, price: float) -> dict:
    opening, closing, sold, lost = (np.asarray(a, dtype=float) for a in (opening, closing, sold, lost))
    days = len(opening)
    avg_stock = float(((opening + closing) / 2).mean()) if days else 0.0
    sold_qty, lost_qty = float(sold.sum()), float(lost.sum())
    demand = sold_qty + lost_qty
    return {
        "days": days,
        "demand_qty": demand,
        "sold_qty": sold_qty,
        "avg_stock_qty": avg_stock,
        "avg_inventory_value": avg_stock * price * STOCK_VALUE_SHARE,
        "turnover": _safe(sold_qty, avg_stock),
        "lost_qty": lost_qty,
        "lost_value": lost_qty * price,
        "fill_rate": sold_qty / demand if demand > 0 else 1.0,
        "stockout_days": int((lost > 1e-9).sum()),
        "days_of_cover": _safe(avg_stock, sold_qty / days) if days else None,
    }


def total_kpis(per_product: list[dict], prices: list[float]) -> dict:
    """Totals over products (``per_product`` are product_kpis dicts, ``prices`` their prices)."""
    if not per_product:
        return {}
    days = max(k["days"] for k in per_product)
    value = sum(k["avg_inventory_value"] for k in per_product)
    sold_value = sum(k["sold_qty"] * p * STOCK_VALUE_SHARE for k, p in zip(per_product, prices))
    sold, demand = sum(k["sold_qty"] for k in per_product), sum(k["demand_qty"] for k in per_product)
    return {
        "days": days,
        "demand_qty": demand,
        "sold_qty": sold,
        "avg_stock_qty": sum(k["avg_stock_qty"] for k in per_product),
        "avg_inventory_value": value,
        "turnover": _safe(sold_value, value),
        "lost_qty": sum(k["lost_qty"] for k in per_product),
        "lost_value": sum(k["lost_value"] for k in per_product),
        "fill_rate": sold / demand if demand > 0 else 1.0,
        "stockout_days": sum(k["stockout_days"] for k in per_product),
        "days_of_cover": _safe(value, sold_value / days) if days else None,
    }


def ratio(value: float, bound: float) -> float | None:
    """value / bound, or None when the bound is 0 (no demand)."""
    return float(value / bound) if bound > 0 and math.isfinite(value) else None
