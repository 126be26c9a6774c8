"""Day-by-day stock simulation under the pilot's business rules.

The store closes at 21:00; at 22:00 of day t an order is placed that arrives before opening on day
t + L (L = the product's LeadTime). For each day t:

    opening(t) = closing(t - 1) + arrivals(t)
    sold(t)    = min(demand(t), opening(t))
    lost(t)    = demand(t) - sold(t)
    closing(t) = opening(t) - sold(t)

then the evening order is decided from closing(t) and what is in transit (ordered on t-L+1 .. t-1,
arriving on t+1 .. t+L-1). The state before the first simulated day is given explicitly:
``initial_closing`` (the closing stock of the evening before) and ``pipeline`` (what arrives on the
first L days, i.e. the orders placed on the L evenings before).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

# decide(day index, closing stock, in transit) -> order quantity placed at 22:00 of that day
Decide = Callable[[int, float, float], float]


@dataclass
class Simulation:
    lead_time: int
    demand: np.ndarray
    opening: np.ndarray
    arrivals: np.ndarray
    sold: np.ndarray
    lost: np.ndarray
    closing: np.ndarray
    order: np.ndarray
    in_transit: np.ndarray  # in transit at 22:00 of each day, before that day's order

    def __len__(self) -> int:
        return len(self.demand)

    def arriving_after(self, i: int) -> float:
        """Ordered before day i and arriving after it (the in-transit quantity at the close of day i)."""
        return float(self.in_transit[i])


def round_up(quantity: float, pack_size: int = 1) -> int:
    """The smallest multiple of pack_size >= quantity (0 for quantity <= 0)."""
    if pack_size < 1:
        raise ValueError(f"the pack size must be a whole number of at least 1, not {pack_size}.")
    if not quantity > 1e-9:
        return 0
    return int(math.ceil(quantity / pack_size - 1e-9)) * int(pack_size)


def order_up_to(target: float, closing_stock: float, in_transit: float, pack_size: int = 1) -> int:
    """Order-up-to rule: max(0, target - closing - in transit) rounded up to whole packs."""
    return round_up(target - closing_stock - in_transit, pack_size)


def simulate(demand, lead_time: int, decide: Decide, initial_closing: float = 0.0, pipeline=None) -> Simulation:
    """Run the rules over len(demand) days. ``pipeline[k]`` arrives before opening on day k (k < lead_time)."""
    L = int(lead_time)
    if L < 1:
        raise ValueError(f"the lead time must be at least 1 day, not {lead_time}.")
    d = np.asarray(demand, dtype=float)
    n = len(d)
    if np.any(d < 0):
        raise ValueError("demand cannot be negative; check the sales quantities.")
    arrive = np.zeros(n + L + 1)
    if pipeline is not None:
        p = np.asarray(pipeline, dtype=float)
        if len(p) > L:
            raise ValueError(f"the initial pipeline has {len(p)} deliveries but only {L} can be in transit with lead time {L}.")
        arrive[:len(p)] = p
    opening, arrivals, sold, lost, closing, order, transit = (np.zeros(n) for _ in range(7))
    prev = float(initial_closing)
    for i in range(n):
        arrivals[i] = arrive[i]
        opening[i] = prev + arrive[i]
        sold[i] = min(d[i], opening[i])
        lost[i] = d[i] - sold[i]
        closing[i] = opening[i] - sold[i]
        transit[i] = float(arrive[i + 1:i + L].sum())
        q = float(decide(i, closing[i], transit[i]))
        if q < 0:
            raise ValueError("an order quantity cannot be negative.")
        order[i] = q
        arrive[i + L] += q
        prev = closing[i]
    return Simulation(L, d, opening, arrivals, sold, lost, closing, order, transit)


def simulate_policy(demand, lead_time: int, lead_forecast, safety_stock, initial_closing: float = 0.0, pipeline=None,
                    pack_size: int = 1) -> Simulation:
    """Order-up-to policy: order(t) = max(0, lead_forecast(t) + safety_stock(t) - closing(t) - in transit), in packs.

    ``lead_forecast[t]`` is the forecast of demand on t+1 .. t+L made at day t; ``safety_stock`` is a
    number or one value per day.
    """
    f = np.asarray(lead_forecast, dtype=float)
    ss = np.broadcast_to(np.asarray(safety_stock, dtype=float), f.shape)
    return simulate(demand, lead_time, lambda i, c, t: order_up_to(f[i] + ss[i], c, t, pack_size), initial_closing, pipeline)


def simulate_orders(demand, lead_time: int, orders, initial_closing: float = 0.0, pipeline=None) -> Simulation:
    """Simulate a fixed list of orders (one per day)."""
    o = np.asarray(orders, dtype=float)
    return simulate(demand, lead_time, lambda i, c, t: o[i], initial_closing, pipeline)
