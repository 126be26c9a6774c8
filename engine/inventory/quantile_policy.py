"""The order sheet's rule: order up to a quantile of the lead-window demand, without hindsight.

The safety stock of a close (``order_up_to_safety``) is the calibration quantile of the lead-window
total error (actual − forecast) of the model's out-of-sample selection folds, each forecast by a model
that had not seen it, rescaled to the close's level (``engine.forecasting.lead_window.rescale_errors``),
per order weekday where it has enough errors and per season class (a normal week is sized on
normal-week errors; a peak such as the weeks before Christmas on all: ``engine.forecasting.quantiles``,
split-conformal, finite-sample corrected), after clipping one-off shocks to a fence of 2 IQR
(``fenced``). The order sheet orders with it each evening, and ``engine.inventory.evaluate`` replays it
on past windows (form ``sheet``).

Which quantile (``level_for``):
- ``quantile:Q`` orders up to the Q quantile of lead-window demand (a cycle service level: the
  share of order cycles without a stockout);
- ``service-level:B`` (the default, B = 0.99) treats B as the fill rate promised (units sold /
  units asked): the level is the lowest on a grid whose expected shortage on the calibration errors,
  E[(error − safety)+] per order day, is at most (1 − B) × the mean daily demand of those days.
  Only calibration data decide it; the window's own demand never does.
- ``cost`` (newsvendor): lost margin per unit short m against holding cost per unit-day h; the
  critical ratio m / (m + h) is the level.
"""

from __future__ import annotations

import math

import numpy as np

from engine.forecasting.quantiles import LeadWindowQuantiles, conformal_quantile
from engine.inventory.kpis import STOCK_VALUE_SHARE
from engine.inventory.safety import HINDSIGHT_SPECS, parse_share, parse_units

LEVEL_GRID = tuple(np.round(np.arange(0.50, 0.9951, 0.005), 3))
FENCE = 2.0  # calibration errors beyond Q3 + 2 IQR (or below Q1 - 2 IQR) are clipped to it (between Tukey's 1.5 and 3)
DEMAND_DAYS = 84  # a fill-rate level is measured against the mean daily demand of these last days (the calibration span)
CARRYING_RATE = 0.25  # yearly carrying cost as a share of the stock value
MARGIN_SHARE = 0.5  # lost margin per unit short as a share of the price (stock is valued at 50 % of it)


def holding_cost(price: float, carrying_rate: float = CARRYING_RATE) -> float:
    """Holding cost per unit-day: the stock value (50 % of the price) x the yearly carrying rate / 365."""
    return float(price) * STOCK_VALUE_SHARE * float(carrying_rate) / 365.0


def parse_policy(spec) -> tuple[str, float | None]:
    """'service-level[:0.99]' -> ('fill', 0.99); 'quantile:0.95' -> ('quantile', 0.95);
    'cost[:RATE]' -> ('cost', RATE); a number -> ('fixed', units)."""
    text = str(spec).strip().lower()
    if text.startswith("service-level"):
        return "fill", parse_share(spec, "service-level")
    if text.startswith("quantile"):
        return "quantile", parse_share(spec, "quantile")
    if text.startswith("cost"):
        rest = text[len("cost"):].lstrip(":")
        try:
            rate = float(rest) if rest else CARRYING_RATE
        except ValueError:
            rate = math.nan
        if not 0 < rate < 10:
            raise ValueError(f"the yearly carrying rate in {spec!r} must be a share like 0.25; give e.g. cost:0.25.")
        return "cost", rate
    if text in HINDSIGHT_SPECS:
        raise ValueError("the hindsight minimum needs the future's demand; pick service-level[:0.99], quantile:Q, cost or a number of units.")
    return parse_units(spec, "service-level[:0.99], quantile:Q, cost[:RATE]")


def fenced(total_errors) -> np.ndarray:
    """The lead-window total errors with one-off shocks clipped to a fence of 2 interquartile ranges (Q1 − 2 IQR, Q3 + 2 IQR).

    Why: a single extreme event in the calibration days (on the real store, the April 2016 earthquake's buying
    spike, or a one-day rush on Grocery I in October 2015) would otherwise size the safety stock of the
    following months by itself. Chosen on the real store-44 months (docs/benchmarks.md), with the season split
    of the errors: 2016-07..12, Tukey's far-out fence (3 IQR) 1.86x the bound at 99.41 % fill, 2 IQR 1.66x at
    99.17 %, 1.5 IQR 1.59x at 99.01 %; checked on 2016-01..06 (3 IQR 2.26x at 97.99 %, 2 IQR 1.95x at 97.81 %:
    the earthquake month misses either way)."""
    e = np.asarray(total_errors, dtype=float)
    e = e[np.isfinite(e)]
    if e.size < 4:
        return e
    q1, q3 = np.quantile(e, [0.25, 0.75])
    return np.clip(e, q1 - FENCE * (q3 - q1), q3 + FENCE * (q3 - q1))


def expected_shortage(total_errors: np.ndarray, safety: float) -> float:
    """Mean of (error − safety)+ over the lead-window total errors: units short per order day."""
    e = np.asarray(total_errors, dtype=float)
    return float(np.maximum(e - safety, 0.0).mean()) if e.size else 0.0


def level_for(spec, total_errors: np.ndarray, mean_demand: float, price: float) -> tuple[float, str]:
    """(quantile level, one sentence saying why) for a policy spec (see the module docstring)."""
    kind, value = parse_policy(spec)
    if kind == "quantile":
        return float(value), f"the {value:.1%} quantile asked for (share of order cycles without a stockout)".replace(".0%", "%")
    if kind == "cost":
        m, h = float(price) * MARGIN_SHARE, holding_cost(price, value)
        exact = m / (m + h)
        ratio = min(max(exact, 0.5), 0.999)
        capped = f" (capped at {ratio:.3f}: the calibration errors cannot tell finer tails)" if ratio != exact else ""
        return ratio, (f"cost option: lost margin {m:,.2f} per unit short vs holding {h:,.4f} per unit-day "
                       f"({value:.0%} a year on the stock value) → critical ratio {exact:.4f}{capped}")
    if kind == "fill":
        allowed = (1.0 - float(value)) * max(float(mean_demand), 0.0)
        e = np.asarray(total_errors, dtype=float)
        for q in LEVEL_GRID:
            if e.size and expected_shortage(e, conformal_quantile(e, float(q))) <= allowed:
                return float(q), (f"the lowest quantile whose expected shortage on {e.size} recent out-of-sample errors is at most "
                                  f"{1 - value:.1%} of a day's demand (fill rate {value:.0%} promised)").replace(".0%", "%")
        return 0.995, f"no quantile up to 99.5% keeps the expected shortage within {1 - value:.1%} of a day's demand: 99.5% used"
    raise ValueError(f"a fixed safety stock ({value:,.0f} units) does not pick a quantile.")


def order_up_to_safety(spec, q: LeadWindowQuantiles, mean_demand: float, price: float) -> tuple[float, float, str]:
    """(level, safety stock in units, why) of one close, as the order sheet orders: the close's calibration
    errors of the lead-window total (``q.total_errors``: its weekday's when there are enough), one-off shocks
    fenced, the level from ``level_for``, the safety = that quantile of the errors (never below 0)."""
    errors = fenced(q.total_errors())
    level, why = level_for(spec, errors, mean_demand, price)
    if q.normal_weeks_only():
        why += f"; errors of normal weeks only (last year these days sold {q.season:.1f}x their level; peaks left out)"
    elif q.peak:
        why += f"; a peak (last year these days sold {q.season:.1f}x their level): every error, peaks included"
    return level, max(0.0, conformal_quantile(errors, level)), why
