"""Safety stock: three methods (fixed, hindsight minimum, service level) and three forms.

Forms (what one safety stock parameter means on order day t):
- constant: ``parameter`` units every day;
- proportional: ``parameter`` x the lead-window forecast of t (errors grow on busy days);
- weekday: one value per order weekday (``parameter`` x ``profile``, parameter 1: the profile holds the units).

Methods:
- fixed: a number of units (constant form).
- hindsight: the pilot's "smallest safety stock with zero lost sales over the evaluated window". It
  looks at the window's actual demand, so it USES THE FUTURE; every label says so. The search is over
  the form's parameter on a grid (1 unit; 1% of the forecast; 1 unit per weekday for the weekday form,
  whose seven values are minimised one weekday at a time) and returns the smallest value with zero
  lost sales such that one step less (on any weekday) loses sales. With form "best"
  all three forms are searched and the one with the lowest average inventory value is kept.
- service-level: from the lead-window errors of the validation order days BEFORE the window (see
  engine.inventory.forecasts): the ``level`` quantile of the errors (empirical; the normal formula
  mean + z x sd only when the errors pass Shapiro-Wilk), of the errors relative to the forecast
  (proportional), or per order weekday. With form "best" the form is chosen on validation data only:
  each form is calibrated on the first half of the validation days, simulated on the second half,
  and the cheapest one reaching the fill rate target wins (else the highest fill rate); the winner
  is then recalibrated on all validation days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.inventory.kpis import product_kpis
from engine.inventory.policy import evaluated, run_policy
from engine.stats import MIN_VALUES, shapiro_test

FORMS = ("constant", "proportional", "weekday")
STEPS = {"constant": 1.0, "proportional": 0.01, "weekday": 1.0}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HINDSIGHT_LABEL = "hindsight minimum (uses the future)"
MAX_DOUBLINGS = 40


@dataclass
class SafetyPlan:
    method: str  # "fixed" | "hindsight" | "service-level"
    form: str  # "constant" | "proportional" | "weekday"
    parameter: float  # units (constant), share of the lead-window forecast (proportional), scale (weekday)
    profile: tuple[float, ...] | None = None  # weekday form: one multiplier per weekday Mon..Sun
    level: float | None = None  # service level
    estimator: str = ""  # how the service-level quantile was estimated
    note: str = ""  # e.g. how the form was chosen
    compared: dict = field(default_factory=dict)  # form -> what decided the choice (avg inventory value / fill rate)
    by_day: tuple[float, ...] | None = None  # daily form: the safety stock of each order day (as the sheet computed it that evening)

    def values(self, lead_forecast, weekdays) -> np.ndarray:
        """Safety stock for each order day (units)."""
        f = np.asarray(lead_forecast, dtype=float)
        if self.form == "constant":
            return np.full(f.shape, float(self.parameter))
        if self.form == "proportional":
            return self.parameter * f
        if self.form == "weekday":
            return self.parameter * np.asarray(self.profile, dtype=float)[np.asarray(weekdays, dtype=int)]
        if self.form == "daily":
            return np.asarray(self.by_day, dtype=float)
        raise ValueError(f"unknown safety stock form {self.form!r}; choose constant, proportional or weekday.")

    def describe_form(self) -> str:
        if self.form == "daily":
            return f"set each evening from that day's quantile (mean {np.mean(self.by_day):,.0f} units)"
        if self.form == "constant":
            return f"constant {self.parameter:,.0f} units"
        if self.form == "proportional":
            return f"{self.parameter:.0%} of the lead-window forecast"
        units = self.parameter * np.asarray(self.profile)
        return "by weekday (" + ", ".join(f"{d} {u:,.0f}" for d, u in zip(WEEKDAYS, units)) + ")"

    @property
    def label(self) -> str:
        if self.method == "fixed":
            return f"fixed {self.parameter:,.0f} units"
        if self.method == "hindsight":
            return f"{HINDSIGHT_LABEL}: {self.describe_form()}"
        if self.form == "daily":  # the order sheet's rule: the level is the mean of each evening's quantile
            return (f"the order sheet's rule, on average the P{self.level * 100:.1f} quantile of lead-window demand: "
                    f"{self.describe_form()}").replace(".0 quantile", " quantile")
        how = self.estimator or "empirical quantile"
        return f"service level {self.level:.1%} ({how} of lead-window errors): {self.describe_form()}".replace(".0%", "%")

    def to_dict(self) -> dict:
        return {"method": self.method, "form": self.form, "parameter": self.parameter,
                "profile": list(self.profile) if self.profile is not None else None, "level": self.level,
                "estimator": self.estimator, "note": self.note, "label": self.label, "compared": self.compared}


HINDSIGHT_SPECS = ("min-zero-loss", "hindsight")  # the spellings of the hindsight minimum


def parse_share(spec, word: str, default: float = 0.99) -> float:
    """The share after ``word`` in a spec ('service-level:0.995', 'quantile:95' = 0.95; nothing: ``default``),
    or one sentence saying what to give."""
    rest = str(spec).strip().lower()[len(word):].lstrip(":")
    if not rest:
        return default
    try:
        value = float(rest)
    except ValueError:
        value = math.nan
    if 50 <= value < 100:  # given in percent
        value /= 100
    if not 0 < value < 1:
        raise ValueError(f"the {word} in {spec!r} must be a share like 0.99 (or 99); give e.g. {word}:0.99.")
    return value


def parse_units(spec, choices: str) -> tuple[str, float]:
    """('fixed', units) for a spec that is a number of units of 0 or more, or one sentence naming ``choices``."""
    try:
        units = float(str(spec).strip())
    except ValueError:
        raise ValueError(f"unknown safety stock {spec!r}; give {choices} or a number of units.") from None
    if not units >= 0 or not math.isfinite(units):
        raise ValueError(f"the safety stock must be a number of units of 0 or more, not {spec!r}.")
    return "fixed", units


def parse_safety_stock(spec) -> tuple[str, float | None]:
    """'min-zero-loss' -> ('hindsight', None); 'service-level[:0.99]' -> ('service-level', 0.99); '250' -> ('fixed', 250.0)."""
    text = str(spec).strip().lower()
    if text in HINDSIGHT_SPECS:
        return "hindsight", None
    if text.startswith("service-level"):
        return "service-level", parse_share(spec, "service-level")
    return parse_units(spec, "min-zero-loss, service-level[:0.99]")


def check_form(form: str) -> str:
    if form not in (*FORMS, "best", "sheet"):
        raise ValueError(f"unknown safety stock form {form!r}; choose sheet, constant, proportional, weekday or best.")
    return form


# ---------------------------------------------------------------- service level
def estimate_quantile(x: np.ndarray, level: float) -> tuple[float, str]:
    """The level-quantile of x: normal (mean + z sd) when x passes Shapiro-Wilk, else empirical."""
    from scipy import stats


    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("there are no validation forecasts to size a service-level safety stock; pick a later window start.")
    if x.size >= MIN_VALUES and float(np.ptp(x)) > 0:
        test = shapiro_test(x, what="lead-window errors")
        if test.passed:
            z = float(stats.norm.ppf(level))
            return float(x.mean() + z * x.std(ddof=1)), f"normal, errors pass Shapiro-Wilk p = {test.p_value:.2f}"
    return float(np.quantile(x, level)), "empirical quantile"


def service_level_plan(errors, forecasts, weekdays, level: float, form: str) -> SafetyPlan:
    """Calibrate one form on validation errors (actual - forecast of the L-day lead window)."""
    e, f, wd = (np.asarray(a) for a in (errors, forecasts, weekdays))
    if form == "constant":
        q, how = estimate_quantile(e, level)
        return SafetyPlan("service-level", "constant", max(0.0, q), level=level, estimator=how)
    if form == "proportional":
        ok = f > 0
        if not ok.any():
            return SafetyPlan("service-level", "proportional", 0.0, level=level, estimator="no forecast demand on the validation days")
        q, how = estimate_quantile(e[ok] / f[ok], level)
        return SafetyPlan("service-level", "proportional", max(0.0, q), level=level, estimator=how + " of errors / forecast")
    if form == "weekday":
        overall = float(np.quantile(e, level)) if e.size else 0.0
        profile = []
        for d in range(7):
            sub = e[wd == d]
            profile.append(max(0.0, float(np.quantile(sub, level)) if sub.size >= 5 else overall))
        return SafetyPlan("service-level", "weekday", 1.0, profile=tuple(profile), level=level, estimator="empirical quantile per weekday")
    raise ValueError(f"unknown safety stock form {form!r}; choose constant, proportional or weekday.")


def choose_service_level(lw, level: float, form: str = "best", pack_size: int = 1) -> SafetyPlan:
    """Service-level plan from the validation days of ``lw`` only (see the module docstring)."""
    e, f, wd = lw.errors()
    if form != "best":
        return service_level_plan(e, f, wd, level, check_form(form))
    L, last = lw.lead_time, lw.warmup
    mid = last - (last + 1) // 2 + 1  # first day of the second validation half
    calib = mid - L - 1  # its warm-up evening: the calibration errors' targets end before `mid`
    ce, cf, cwd = lw.errors(last=calib)
    compared = {}
    for name in FORMS:
        plan = service_level_plan(ce, cf, cwd, level, name)
        sim = run_policy(lw, plan.values(lw.lead_forecast, lw.weekdays), pack_size, first=mid, last=last)
        k = product_kpis(**{n: v for n, v in evaluated(sim).items() if n in ("opening", "closing", "sold", "lost")}, price=1.0)
        compared[name] = {"fill_rate": k["fill_rate"], "avg_stock_qty": k["avg_stock_qty"]}
    reaching = [n for n in FORMS if compared[n]["fill_rate"] >= level]
    best = min(reaching, key=lambda n: compared[n]["avg_stock_qty"]) if reaching else max(FORMS, key=lambda n: compared[n]["fill_rate"])
    plan = service_level_plan(e, f, wd, level, best)
    plan.compared = compared
    plan.note = (f"form chosen on validation days {lw.dates[mid]}..{lw.dates[last]} (calibrated on the days before): "
                 + ", ".join(f"{n} fill {c['fill_rate']:.1%} stock {c['avg_stock_qty']:,.0f}" for n, c in compared.items()))
    return plan


# ---------------------------------------------------------------- hindsight
def lost_sales(lw, plan: SafetyPlan, pack_size: int = 1) -> float:
    sim = run_policy(lw, plan.values(lw.lead_forecast, lw.weekdays), pack_size)
    return float(sim.lost[lw.lead_time:].sum())


def _smallest(loses, hi: int) -> int:
    """Smallest n in 0..hi with loses(n) False, given loses(hi) is False (bisection; n - 1 loses sales)."""
    if not loses(0):
        return 0
    lo = 0
    while hi - lo > 1:  # invariant: lo loses sales, hi does not
        mid = (lo + hi) // 2
        if loses(mid):
            lo = mid
        else:
            hi = mid
    return hi


def hindsight_plan(lw, form: str, pack_size: int = 1) -> SafetyPlan:
    """Smallest parameter (on the form's grid) with zero lost sales on the evaluated window; one step less loses sales.

    The weekday form has one parameter per order weekday: starting from the constant minimum, each
    weekday's safety stock is lowered to its own minimum in turn, repeated until nothing moves, so
    one unit less on any weekday loses sales."""
    step = STEPS["constant" if form == "weekday" else form]

    def plan(n: int) -> SafetyPlan:
        return SafetyPlan("hindsight", form if form != "weekday" else "constant", round(n * step, 10))

    def loses(n: int) -> bool:
        return lost_sales(lw, plan(n), pack_size) > 1e-9

    hi = 1
    for _ in range(MAX_DOUBLINGS):
        if not loses(hi):
            break
        hi *= 2
    else:
        raise ValueError(f"no safety stock avoids lost sales of product {lw.product} in this window; check its sales data.")
    n = _smallest(loses, hi)
    if form != "weekday":
        return SafetyPlan("hindsight", form, round(n * step, 10))
    units = [int(n)] * 7
    for _ in range(4):
        before = list(units)
        for d in range(7):
            def loses_d(v: int, d=d) -> bool:
                trial = list(units)
                trial[d] = v
                return lost_sales(lw, SafetyPlan("hindsight", "weekday", 1.0, profile=tuple(float(u) for u in trial)), pack_size) > 1e-9
            units[d] = _smallest(loses_d, units[d])
        if units == before:
            break
    return SafetyPlan("hindsight", "weekday", 1.0, profile=tuple(float(u) for u in units))


def choose_hindsight(lw, form: str = "best", pack_size: int = 1) -> SafetyPlan:
    if form != "best":
        return hindsight_plan(lw, check_form(form), pack_size)
    compared, plans = {}, {}
    for name in FORMS:
        p = hindsight_plan(lw, name, pack_size)
        sim = run_policy(lw, p.values(lw.lead_forecast, lw.weekdays), pack_size)
        k = product_kpis(**{n: v for n, v in evaluated(sim).items() if n in ("opening", "closing", "sold", "lost")}, price=1.0)
        plans[name], compared[name] = p, {"avg_stock_qty": k["avg_stock_qty"], "parameter": p.parameter}
    best = min(FORMS, key=lambda n: compared[n]["avg_stock_qty"])
    plan = plans[best]
    plan.compared = compared
    plan.note = "form with the lowest average stock at zero lost sales: " + ", ".join(
        f"{n} {c['avg_stock_qty']:,.0f}" for n, c in compared.items())
    return plan


def make_plan(lw, safety_stock="service-level:0.99", form: str = "best", pack_size: int = 1) -> SafetyPlan:
    """The safety stock plan for one product's LeadWindow from a spec string (see parse_safety_stock)."""
    method, value = parse_safety_stock(safety_stock)
    check_form(form)
    if method == "fixed":
        return SafetyPlan("fixed", "constant", float(value))
    if method == "hindsight":
        return choose_hindsight(lw, form, pack_size)
    return choose_service_level(lw, float(value), form, pack_size)
