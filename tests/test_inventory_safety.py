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
    if form == "weekday":
        assert plan.parameter == 1.0 and len(plan.profile) == 7
        for d in range(7):  # one unit less on any weekday loses sales
            if plan.profile[d] > 0:
                less = list(plan.profile)
                less[d] -= 1
                assert lost_sales(lw, SafetyPlan("hindsight", "weekday", 1.0, profile=tuple(less))) > 0
        constant = hindsight_plan(lw, "constant")
        assert max(plan.profile) <= constant.parameter
    else:
        step = {"constant": 1.0, "proportional": 0.01}[form]
        assert plan.parameter > 0
        less = SafetyPlan("hindsight", form, plan.parameter - step)
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
    assert ("by weekday" if best.form == "weekday" else best.form) in best.label


def _normal_quantile(x, level):
    """mean + z * sd, computed here with scipy's normal distribution."""
    from scipy import stats

    return float(np.mean(x) + stats.norm.ppf(level) * np.std(x, ddof=1))


def _passes_shapiro(x) -> bool:
    from scipy import stats

    return bool(stats.shapiro(x).pvalue >= 0.05)


def test_service_level_quantile_and_validation_only():
    lw = synthetic(seed=5)
    e, f, wd = lw.errors()
    # validation errors are the order days up to the warm-up evening; their targets end before the window
    assert len(e) == lw.warmup + 1
    # Poisson noise around the true mean: these errors (and errors / forecast) are normal enough for Shapiro-Wilk
    assert _passes_shapiro(e) and _passes_shapiro(e / f)
    plan = service_level_plan(e, f, wd, 0.9, "constant")
    assert plan.estimator.startswith("normal, errors pass Shapiro-Wilk")
    assert plan.parameter == pytest.approx(max(0.0, _normal_quantile(e, 0.9)))
    assert (e <= plan.parameter).mean() >= 0.85
    weekday = service_level_plan(e, f, wd, 0.9, "weekday")
    assert weekday.profile[4] == pytest.approx(max(0.0, np.quantile(e[wd == 4], 0.9)))
    prop = service_level_plan(e, f, wd, 0.9, "proportional")
    assert prop.estimator.startswith("normal, errors pass Shapiro-Wilk") and prop.estimator.endswith("of errors / forecast")
    assert prop.parameter == pytest.approx(max(0.0, _normal_quantile(e / f, 0.9)))
    # changing the window's demand (after the warm-up) does not move the service-level plan
    other = synthetic(seed=5)
    other.demand[other.first:] *= 3
    other.actuals[other.warmup + 1:] *= 3
    a, b = choose_service_level(lw, 0.99), choose_service_level(other, 0.99)
    assert (a.form, a.parameter, a.profile) == (b.form, b.parameter, b.profile)
    assert choose_hindsight(lw, "constant").parameter != choose_hindsight(other, "constant").parameter


def test_skewed_errors_use_the_empirical_quantile():
    rng = np.random.default_rng(11)
    e = rng.exponential(10.0, 150) - 5.0  # long right tail: a normal quantile would be wrong
    f = np.full(150, 50.0)
    wd = np.arange(150) % 7
    assert not _passes_shapiro(e) and not _passes_shapiro(e / f)
    plan = service_level_plan(e, f, wd, 0.9, "constant")
    assert plan.estimator == "empirical quantile"
    assert plan.parameter == pytest.approx(np.quantile(e, 0.9)) and plan.parameter != pytest.approx(_normal_quantile(e, 0.9))
    prop = service_level_plan(e, f, wd, 0.9, "proportional")
    assert prop.estimator == "empirical quantile of errors / forecast"
    assert prop.parameter == pytest.approx(np.quantile(e / f, 0.9))


def test_service_level_best_form_is_the_least_stock_among_forms_reaching_the_level():
    lw = synthetic(seed=7)
    plan = choose_service_level(lw, 0.95, "best")
    assert set(plan.compared) == {"constant", "proportional", "weekday"}
    assert "form chosen on validation days" in plan.note
    reaching = [n for n, c in plan.compared.items() if c["fill_rate"] >= 0.95]
    assert reaching == ["constant", "proportional", "weekday"]  # this calm series: every form reaches 95 %
    assert plan.form == min(reaching, key=lambda n: plan.compared[n]["avg_stock_qty"])
    assert plan.label.startswith("service level 95%")


def test_service_level_best_form_when_no_form_reaches_the_level_is_the_best_filled():
    lw = synthetic(seed=7)
    last = lw.warmup
    mid = last - (last + 1) // 2 + 1  # the second validation half, on which the form is chosen
    lw.demand[mid:] *= 2  # ... sells twice what the first half (the calibration) did
    lw.actuals[mid - L:] *= 2
    plan = choose_service_level(lw, 0.95, "best")
    fills = {n: c["fill_rate"] for n, c in plan.compared.items()}
    assert max(fills.values()) < 0.95  # no form reaches the level
    assert plan.form == max(fills, key=fills.get)


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


def test_a_product_that_does_not_sell_gets_zero_safety_stock():
    lw = synthetic(busy=0.0)  # every demand and forecast is 0
    for form in ("best", "constant", "proportional", "weekday"):
        plan = choose_service_level(lw, 0.99, form)
        assert plan.values(lw.lead_forecast, lw.weekdays).max() == 0
        assert choose_hindsight(lw, form).values(lw.lead_forecast, lw.weekdays).max() == 0
