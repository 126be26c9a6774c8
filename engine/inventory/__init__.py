"""Inventory simulation under the pilot's ordering rules: policy, safety stock, KPIs, the bound.

Modules: ``simulation`` (the day rules), ``policy`` (order-up-to with the warm-up), ``safety``
(fixed / hindsight / service-level, constant / proportional / weekday forms), ``bound`` (perfect
foresight), ``kpis``, ``forecasts`` (lead-window inputs without look-ahead), ``evaluate``
(``evaluate_policy``, ``compare_policies``: the CLI, the page and the bench call these).
"""

from engine.inventory.evaluate import InventoryResult, ProductInventory, compare_policies, evaluate_policy
from engine.inventory.safety import SafetyPlan, parse_safety_stock
from engine.inventory.simulation import Simulation, order_up_to, round_up, simulate, simulate_orders, simulate_policy

__all__ = ["InventoryResult", "ProductInventory", "SafetyPlan", "Simulation", "compare_policies", "evaluate_policy", "order_up_to",
           "parse_safety_stock", "round_up", "simulate", "simulate_orders", "simulate_policy"]
