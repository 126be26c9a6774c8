"""The perfect-foresight bound: every order equals the actual demand of the day it arrives on.

With the true demand known in advance, the stock that opens each day is exactly that day's demand
and every evening closes at zero: nothing is lost and the average stock is half the average daily
demand — the least any policy that loses nothing can hold under the pilot's rules.
"""

from __future__ import annotations

import numpy as np

from engine.inventory.simulation import Simulation, simulate_orders


def perfect_foresight(demand, lead_time: int) -> Simulation:
    """Simulate ``demand`` (day 0 .. n-1) with orders equal to the demand L days later; the
    deliveries for days 0 .. L-1 were ordered before day 0 with the same foresight."""
    d = np.asarray(demand, dtype=float)
    L = int(lead_time)
    orders = np.concatenate([d[L:], np.zeros(min(L, len(d)))])
    return simulate_orders(d, L, orders, initial_closing=0.0, pipeline=d[:L])
