"""Page 4, "what to do next": fixed rules over the report's numbers, each giving one sentence (no language model).

Each rule reads only values that the report's JSON carries, so a reader can check every advice
against the tables. Thresholds: p < 0.05 for tests and lifts; the chosen models and the baseline are
"about equal" within 2 % of the baseline's WAPE; the 80 % band is called off when it
covers less than 70 % or more than 90 % of the test days; fewer than 3 windows is called thin.
"""

from __future__ import annotations

from engine.report.text import fmt_pct, fmt_qty, fmt_times, service_level, setting_words, t

ALPHA = 0.05
TIE = 0.02  # relative WAPE difference to the baseline below which the models and the baseline count as equal
COVER_LOW, COVER_HIGH = 0.70, 0.90
MIN_WINDOWS = 3


def _ids(products: list[int]) -> str:
    return ", ".join(str(p) for p in products)


def next_steps(report: dict, lang: str = "en") -> list[dict]:
    """[{rule, text}] in order of importance: forecasts, inventory, patterns, data, evidence."""
    out: list[dict] = []

    def add(rule: str, key: str, **kw) -> None:
        out.append({"rule": rule, "text": t(lang, key, **kw)})

    for fp in report["forecast"]["products"]:
        chosen, skill = fp["chosen"], fp["skill_vs_baseline"]
        base = next((m for m in fp["models"] if m["model"] == fp["baseline"]), None)
        if skill is None or base is None:
            continue
        key = "r_skill_good" if skill > TIE else ("r_skill_bad" if skill < -TIE else "r_skill_tie")
        add("forecast_skill", key, product=fp["product"], skill=fmt_pct(skill), wape=fmt_pct(chosen["wape"]), base=fmt_pct(base["wape"]))
    ljung = [fp["product"] for fp in report["forecast"]["products"] if any(x["test"] == "Ljung-Box" and not x["passed"] for x in fp["residual_tests"])]
    if ljung:
        add("residual_pattern", "r_ljung", products=_ids(ljung))
    shapiro = [fp["product"] for fp in report["forecast"]["products"] if any(x["test"] == "Shapiro-Wilk" and not x["passed"] for x in fp["residual_tests"])]
    if shapiro:
        add("residual_normality", "r_shapiro", products=_ids(shapiro))
    for fp in report["forecast"]["products"]:
        cov = fp["band"]["coverage"]
        if cov is not None and cov < COVER_LOW:
            add("band_coverage", "r_cover_low", product=fp["product"], cov=fmt_pct(cov, 0))
        elif cov is not None and cov > COVER_HIGH:
            add("band_coverage", "r_cover_high", product=fp["product"], cov=fmt_pct(cov, 0))

    inv = {p["policy"]: p for p in report["inventory"]["policies"]}
    honest, hindsight = inv["honest"]["total"], inv["hindsight"]["total"]
    setting = inv["honest"]["setting"]
    target = service_level(setting)
    words = setting_words(lang, setting)
    if target is not None and honest["fill_rate"] is not None and honest["fill_rate"] < target:
        add("fill_rate", "r_fill_missed", setting=words, fill=fmt_pct(honest["fill_rate"]), target=fmt_pct(target))
    else:
        add("fill_rate", "r_fill_met", setting=words, fill=fmt_pct(honest["fill_rate"]), value=fmt_qty(honest["avg_inventory_value"]),
            ratio=fmt_times(honest["ratio_to_bound"]))
    if honest["avg_inventory_value"] and hindsight["avg_inventory_value"] is not None and hindsight["avg_inventory_value"] < honest["avg_inventory_value"]:
        add("hindsight_gap", "r_gap", honest=fmt_qty(honest["avg_inventory_value"]), hindsight=fmt_qty(hindsight["avg_inventory_value"]),
            saving=fmt_pct(1 - hindsight["avg_inventory_value"] / honest["avg_inventory_value"], 0))

    pats = report["patterns"]
    payday = [p["product"] for p in pats if p["payday"]["p_value"] is not None and p["payday"]["p_value"] < ALPHA and (p["payday"]["lift_pct"] or 0) > 0]
    if payday:
        add("payday", "r_payday", products=_ids(payday))
    holiday = [p["product"] for p in pats if p["holiday"]["p_value"] is not None and p["holiday"]["p_value"] < ALPHA]
    if holiday:
        add("holiday", "r_holiday", products=_ids(holiday))
    oil = [p["product"] for p in pats if p["oil"]["stable"]]
    add("oil", "r_oil_some" if oil else "r_oil_none", products=_ids(oil))
    cust = [p["product"] for p in pats if p["customers"]["stable"] and (p["customers"]["r"] or 0) > 0]
    if cust:
        add("customers", "r_cust", products=_ids(cust))
    if report["data"]["filled_oil_days"]:
        add("oil_gaps", "r_oil_filled", days=report["data"]["filled_oil_days"])
    if len(report["windows"]) < MIN_WINDOWS:
        add("windows", "r_windows", n=len(report["windows"]))
    return out
