"""Safety stock methods on a synthetic lead window (no model needed): hindsight minimality, service level."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.inventory.forecasts import LeadWindow
from engine.inventory.policy import evaluated, run_policy
from engine.inventory.safety import (HINDSIGHT_LABEL, SafetyPlan, choose_hindsight, choose_service_level, hindsight_plan,
                                     lost_sales, make_plan, parse_safety_stock, service_level_plan)

L = 2


def synthetic(seed=0, n=200, first=150, busy=1.0) -> LeadWindow:
    rng = np.random.default_rng(seed)
    dates = [dt.date(2020, 1, 6) + dt.timedelta(days=i) for i in range(n + L + 1)]
    mean = np.array([40, 40, 45, 50, 70, 90, 60], dtype=float) * busy
    wd = np.array([d.weekday() for d in dates])
    qty = rng.poisson(mean[wd]).astype(float)
    forecasts = np.array([[mean[(wd[i] + h) % 7] for h in range(1, L + 1)] for i in range(n)])
    actuals = np.array([[qty[i + h] for h in range(1, L + 1)] for i in range(n)])
    demand = np.concatenate([[np.nan], qty[1:n]])
    return LeadWindow(1, 1, L, "synthetic", dates[:n], demand, forecasts, actuals, first)


@pytest.mark.parametrize("form", ["constant", "proportional", "weekday"])
def test_hindsight_minimum_has_zero_loss_and_one_step_less_loses(form):
    lw = synthetic()
    plan = hindsight_plan(lw, form)
    assert plan.method == "hindsight" and plan.form == form
    assert lost_sales(lw, plan) == 0
    step = {"constant": 1.0, "proportional": 0.01, "weekday": 1.0}[form]
    assert plan.parameter > 0
    less = SafetyPlan("hindsight", form, plan.parameter - step, profile=plan.profile)
    assert lost_sales(lw, less) > 0
    assert plan.label.startswith(HINDSIGHT_LABEL) and "uses the future" in plan.label


def test_hindsight_best_keeps_the_form_with_the_least_stock():
    lw = synthetic(seed=3)
    best = choose_hindsight(lw, "best")
    stocks = {}
    for form in ("constant", "proportional", "weekday"):
        p = hindsight_plan(lw, form)
        stocks[form] = evaluated(run_policy(lw, p.values(lw.lead_forecast, lw.weekdays)))["opening"].sum()
    assert best.form == min(stocks, key=stocks.get)
    assert set(best.compared) == set(stocks)
    assert best.form in best.label or best.form == "weekday" and "by weekday" in best.label


def test_service_level_quantile_and_validation_only():
    lw = synthetic(seed=5)
    e, f, wd = lw.errors()
    # validation errors are the order days up to the warm-up evening; their targets end before the window
    assert len(e) == lw.warmup + 1
    plan = service_level_plan(e, f, wd, 0.9, "constant")
    if "Shapiro" in plan.estimator:
        assert plan.parameter == pytest.approx(e.mean() + 1.2815515655446004 * e.std(ddof=1))
    else:
        assert plan.parameter == pytest.approx(max(0.0, np.quantile(e, 0.9)))
    assert (e <= plan.parameter).mean() >= 0.85
    weekday = service_level_plan(e, f, wd, 0.9, "weekday")
    assert weekday.profile[4] == pytest.approx(max(0.0, np.quantile(e[wd == 4], 0.9)))
    prop = service_level_plan(e, f, wd, 0.9, "proportional")
    assert prop.parameter == pytest.approx(max(0.0, np.quantile(e / f, 0.9))) or "Shapiro" in prop.estimator
    # changing the window's demand (after the warm-up) does not move the service-level plan
    other = synthetic(seed=5)
    other.demand[other.first:] *= 3
    other.actuals[other.warmup + 1:] *= 3
    a, b = choose_service_level(lw, 0.99), choose_service_level(other, 0.99)
    assert (a.form, a.parameter, a.profile) == (b.form, b.parameter, b.profile)
    assert choose_hindsight(lw, "constant").parameter != choose_hindsight(other, "constant").parameter


def test_service_level_best_form_is_chosen_on_validation_halves():
    lw = synthetic(seed=7)
    plan = choose_service_level(lw, 0.95, "best")
    assert set(plan.compared) == {"constant", "proportional", "weekday"}
    assert "form chosen on validation days" in plan.note
    reaching = [n for n, c in plan.compared.items() if c["fill_rate"] >= 0.95]
    if reaching:
        assert plan.form == min(reaching, key=lambda n: plan.compared[n]["avg_stock_qty"])
    assert plan.label.startswith("service level 95%")


def test_parse_safety_stock():
    assert parse_safety_stock("min-zero-loss") == ("hindsight", None)
    assert parse_safety_stock("service-level") == ("service-level", 0.99)
    assert parse_safety_stock("service-level:0.995") == ("service-level", 0.995)
    assert parse_safety_stock("service-level:95") == ("service-level", 0.95)
    assert parse_safety_stock("250") == ("fixed", 250.0)
    for bad in ("lots", "-5", "service-level:2", "service-level:x"):
        with pytest.raises(ValueError) as exc:
            parse_safety_stock(bad)
        assert exc.value.args[0].endswith(".")
    fixed = make_plan(synthetic(), "120")
    assert (fixed.method, fixed.form, fixed.parameter, fixed.label) == ("fixed", "constant", 120.0, "fixed 120 units")
    with pytest.raises(ValueError, match="form"):
        make_plan(synthetic(), "120", form="monthly")
