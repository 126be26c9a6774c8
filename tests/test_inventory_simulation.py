"""Hand-worked cases of the pilot's day rules, the order-up-to policy, the bound and the KPIs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.inventory.bound import perfect_foresight
from engine.inventory.kpis import product_kpis, ratio, total_kpis
from engine.inventory.simulation import order_up_to, round_up, simulate, simulate_orders, simulate_policy


def test_lead_time_1_by_hand():
    # day 0: 2 on hand + 4 arriving = 6, sell 5, close 1, order 3 + 1 - 1 = 3 (arrives day 1)
    sim = simulate_policy([5, 3, 0, 4], 1, lead_forecast=[3, 0, 4, 0], safety_stock=1, initial_closing=2, pipeline=[4])
    assert sim.opening.tolist() == [6, 4, 1, 5]
    assert sim.arrivals.tolist() == [4, 3, 0, 4]
    assert sim.sold.tolist() == [5, 3, 0, 4]
    assert sim.lost.tolist() == [0, 0, 0, 0]
    assert sim.closing.tolist() == [1, 1, 1, 1]
    assert sim.order.tolist() == [3, 0, 4, 0]
    assert sim.in_transit.tolist() == [0, 0, 0, 0]  # with L = 1 nothing is ever in transit at 22:00


def test_lead_time_2_with_in_transit_by_hand():
    sim = simulate_policy([3, 5, 2, 6, 0], 2, lead_forecast=[6] * 5, safety_stock=2, initial_closing=2, pipeline=[3, 3])
    assert sim.opening.tolist() == [5, 5, 3, 6, 2]
    assert sim.closing.tolist() == [2, 0, 1, 0, 2]
    # in transit at the close of day t = ordered on t-1, arriving t+1
    assert sim.in_transit.tolist() == [3, 3, 5, 2, 6]
    # order = 6 + 2 - closing - in transit
    assert sim.order.tolist() == [3, 5, 2, 6, 0]
    assert sim.arrivals.tolist() == [3, 3, 3, 5, 2]  # the order of day t arrives on t + 2
    assert sim.lost.sum() == 0


def test_lead_time_2_stockout_day():
    sim = simulate_policy([4, 6, 4, 4], 2, lead_forecast=[8] * 4, safety_stock=0, initial_closing=0, pipeline=[4, 4])
    assert sim.sold.tolist() == [4, 4, 4, 4]
    assert sim.lost.tolist() == [0, 2, 0, 0]
    assert sim.closing.tolist() == [0, 0, 0, 0]
    k = product_kpis(sim.opening, sim.closing, sim.sold, sim.lost, price=3.0)
    assert k["stockout_days"] == 1
    assert k["lost_qty"] == 2 and k["lost_value"] == 6.0
    assert k["fill_rate"] == pytest.approx(16 / 18)


def test_lead_time_3_by_hand():
    sim = simulate_policy([2, 5, 2, 2, 2, 2], 3, lead_forecast=[6] * 6, safety_stock=1, initial_closing=1, pipeline=[2, 2, 2])
    assert sim.opening.tolist() == [3, 3, 2, 2, 3, 3]
    assert sim.sold.tolist() == [2, 3, 2, 2, 2, 2]
    assert sim.lost.tolist() == [0, 2, 0, 0, 0, 0]
    assert sim.closing.tolist() == [1, 0, 0, 0, 1, 1]
    assert sim.in_transit.tolist() == [4, 4, 5, 5, 4, 4]  # two evenings of orders are on the way
    assert sim.order.tolist() == [2, 3, 2, 2, 2, 2]


def test_zero_demand_keeps_the_stock_and_orders_nothing():
    sim = simulate_policy([0, 0, 0], 2, lead_forecast=[0, 0, 0], safety_stock=0, initial_closing=5, pipeline=[0, 0])
    assert sim.closing.tolist() == [5, 5, 5] and sim.order.tolist() == [0, 0, 0]
    k = product_kpis(sim.opening, sim.closing, sim.sold, sim.lost, price=2.0)
    assert k["fill_rate"] == 1.0 and k["lost_qty"] == 0 and k["stockout_days"] == 0
    assert k["avg_stock_qty"] == 5 and k["turnover"] == 0.0 and k["days_of_cover"] is None
    b = perfect_foresight([0, 0, 0], 2)
    assert ratio(k["avg_stock_qty"], b.opening.mean()) is None  # no demand: no bound to compare with


def test_pack_size_rounds_orders_up():
    assert round_up(0, 6) == 0 and round_up(-3, 6) == 0
    assert round_up(1, 6) == 6 and round_up(6, 6) == 6 and round_up(6.0000000001, 6) == 6 and round_up(7, 6) == 12
    assert order_up_to(target=20, closing_stock=3, in_transit=0, pack_size=6) == 18
    sim = simulate_policy([5, 5], 1, lead_forecast=[5, 5], safety_stock=0, initial_closing=0, pipeline=[6], pack_size=6)
    assert sim.closing.tolist() == [1, 2]
    assert sim.order.tolist() == [6, 6]  # 4 -> 6 and 3 -> 6
    with pytest.raises(ValueError, match="pack size"):
        round_up(5, 0)


def test_fixed_orders_and_in_transit_accounting():
    # orders of 10 every evening, lead time 3: each arrives three days later
    sim = simulate_orders([1] * 6, 3, [10] * 6, initial_closing=0, pipeline=[0, 0, 0])
    assert sim.arrivals.tolist() == [0, 0, 0, 10, 10, 10]
    assert sim.in_transit.tolist() == [0, 10, 20, 20, 20, 20]
    assert sim.lost.tolist() == [1, 1, 1, 0, 0, 0]
    assert sim.closing.tolist() == [0, 0, 0, 9, 18, 27]


def test_generic_rules_hold_for_any_decision():
    rng = np.random.default_rng(1)
    demand = rng.integers(0, 20, 40)
    sim = simulate(demand, 2, lambda i, c, t: float(rng.integers(0, 25)), initial_closing=7, pipeline=[3, 4])
    prev = np.concatenate([[7], sim.closing[:-1]])
    assert np.allclose(sim.opening, prev + sim.arrivals)
    assert np.allclose(sim.sold, np.minimum(demand, sim.opening))
    assert np.allclose(sim.lost, demand - sim.sold)
    assert np.allclose(sim.closing, sim.opening - sim.sold)
    assert np.allclose(sim.arrivals[2:], sim.order[:-2])


def test_perfect_foresight_bound():
    d = [3, 5, 2, 6, 0]
    b = perfect_foresight(d, 2)
    assert b.opening.tolist() == d and b.closing.tolist() == [0] * 5 and b.lost.sum() == 0
    assert b.order.tolist() == [2, 6, 0, 0, 0]  # the demand two days later
    k = product_kpis(b.opening, b.closing, b.sold, b.lost, price=2.0)
    assert k["avg_stock_qty"] == pytest.approx(16 / 5 / 2)


def test_kpis_by_hand():
    # the lead time 2 case: opening [5,5,3,6,2], closing [2,0,1,0,2]
    k = product_kpis([5, 5, 3, 6, 2], [2, 0, 1, 0, 2], [3, 5, 2, 6, 0], [0, 0, 0, 0, 0], price=2.0)
    assert k["avg_stock_qty"] == pytest.approx(2.6)  # mean of 3.5, 2.5, 2, 3, 2
    assert k["avg_inventory_value"] == pytest.approx(2.6 * 2.0 * 0.5)
    assert k["turnover"] == pytest.approx(16 / 2.6)
    assert k["days_of_cover"] == pytest.approx(2.6 / (16 / 5))
    assert k["fill_rate"] == 1.0 and k["stockout_days"] == 0
    other = product_kpis([10, 10], [10, 10], [0, 0], [4, 0], price=1.0)  # nothing sold, 4 lost
    t = total_kpis([k, other], [2.0, 1.0])
    assert t["avg_inventory_value"] == pytest.approx(2.6 + 5.0)
    assert t["lost_qty"] == 4 and t["lost_value"] == 4.0
    assert t["fill_rate"] == pytest.approx(16 / 20)
    assert t["turnover"] == pytest.approx((16 * 2.0 * 0.5) / 7.6)  # on values at cost
    assert t["stockout_days"] == 1


def test_bad_inputs_are_sentences():
    with pytest.raises(ValueError, match="lead time"):
        simulate([1], 0, lambda i, c, t: 0)
    with pytest.raises(ValueError, match="negative"):
        simulate([-1], 1, lambda i, c, t: 0)
