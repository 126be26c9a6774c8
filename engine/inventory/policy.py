"""The order-up-to policy run on a LeadWindow, with the warm-up that sets an honest initial state.

order(t) = max(0, forecast of t+1..t+L + safety stock(t) - closing(t) - in transit(t)), rounded up to
whole packs. The initial state is built from forecasts, never from actual demand: at the warm-up
evening w = first - L - 1 the closing stock is the safety stock of that evening and the next L
deliveries (orders of the L evenings before, arriving w+1 .. w+L) are the forecasts made at w for
those days (rounded up to packs) — the state the policy aims for when the forecasts are right. Days
w+1 .. first-1 (L days) then run under the policy with the real demand (all before the window), so
the window starts from a state the policy itself produced.
"""

from __future__ import annotations

import numpy as np

from engine.inventory.simulation import Simulation, round_up, simulate_policy


def run_policy(lw, safety_values, pack_size: int = 1, first: int | None = None, last: int | None = None) -> Simulation:
    """Simulate days first-L .. last of ``lw`` (first defaults to the window start, last to its end).

    The returned Simulation covers L warm-up days and then the evaluated days: evaluated = [L:].
    ``safety_values`` holds one safety stock per order day of ``lw``."""
    L = lw.lead_time
    first = lw.first if first is None else first
    last = len(lw.dates) - 1 if last is None else last
    w = first - L - 1
    if w < 0:
        raise ValueError("internal error: no room for the warm-up before the evaluated days.")
    ss = np.asarray(safety_values, dtype=float)
    pipeline = [round_up(f, pack_size) for f in lw.forecasts[w]]
    initial = float(round_up(ss[w], 1))
    days = slice(w + 1, last + 1)
    return simulate_policy(lw.demand[days], L, lw.lead_forecast[days], ss[days], initial_closing=initial, pipeline=pipeline,
                           pack_size=pack_size)


def evaluated(sim: Simulation) -> dict:
    """The evaluated days of a run_policy simulation (the warm-up days dropped)."""
    L = sim.lead_time
    return {name: getattr(sim, name)[L:] for name in ("demand", "opening", "arrivals", "sold", "lost", "closing", "order", "in_transit")}
