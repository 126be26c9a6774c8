"""From an order sheet and the buyer's edits to ledger lines: the 20 % rule, defaults, tokens, confirm."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from engine.ordering.ledger import OrderLedger
from engine.ordering.confirmation import (change_ratio, confirm_sheet, confirmation_lines, confirmation_problems,
                                       confirmation_token, needs_reason, sheet_table)
from engine.ordering.sheet import OrderLine, OrderSheet

D = dt.date(2017, 3, 15)


def _line(product, recommended, forecasts=(10.0, 12.0), lead_time=2):
    return OrderLine(store=44, product=product, date=D, lead_time=lead_time, price=2.0, pack_size=1, closing_stock=5.0,
                     closing_source="simulated", in_transit=3.0, forecasts=list(forecasts), safety_stock=4.0,
                     safety_form="fixed", recommended=recommended, reason=f"reason {product}", model="weekday_mean4")


@pytest.fixture
def sheet():
    return OrderSheet(store=44, date=D, policy="order-up-to", lines=[_line(3, 100), _line(12, 0), _line(42, 10, (1.0, 2.0, 3.0), 3)])


NAMES = {3: "BEVERAGES", 12: "GROCERY I", 42: "PRODUCE"}


@pytest.mark.parametrize("recommended, final, needed", [
    (100, 100, False), (100, 120, False), (100, 80, False), (100, 121, True), (100, 79, True),
    (0, 0, False), (0, 1, True), (10, 12, False), (10, 13, True), (10, 0, True),
])
def test_more_than_20_percent_needs_a_reason(recommended, final, needed):
    assert needs_reason(recommended, final) is needed
    assert change_ratio(recommended, final) == (math.inf if recommended == 0 and final else abs(final - recommended) / (recommended or 1))


def test_products_not_given_keep_the_recommendation(sheet):
    lines = confirmation_lines(sheet, {3: 110})
    assert lines == [{"product": 3, "recommended": 100.0, "final": 110.0, "reason": None},
                     {"product": 12, "recommended": 0.0, "final": 0.0, "reason": None},
                     {"product": 42, "recommended": 10.0, "final": 10.0, "reason": None}]
    assert confirmation_lines(sheet, {3: None, 12: "", 42: float("nan")})[0]["final"] == 100.0  # blank = recommended


def test_a_big_change_without_reason_is_one_sentence_naming_the_product(sheet):
    with pytest.raises(ValueError) as info:
        confirmation_lines(sheet, {3: 150}, names=NAMES)
    assert str(info.value) == ("The final order of product 3 (BEVERAGES) is 150, 50% away from the recommended 100: "
                               "write a short reason for a change of more than 20%.")
    with pytest.raises(ValueError, match=r"^The final order of product 12 is 5, more than the recommended 0: write a short reason"):
        confirmation_lines(sheet, {12: 5})
    with pytest.raises(ValueError, match="write a short reason"):
        confirmation_lines(sheet, {3: 150}, {3: "   "})  # blank reasons do not count
    assert confirmation_lines(sheet, {3: 150}, {3: " rain "})[0] == {"product": 3, "recommended": 100.0, "final": 150.0, "reason": "rain"}
    problems = confirmation_problems(sheet, {3: 150, 12: 5, 42: 11}, names=NAMES)
    assert [p.split(" is ")[0] for p in problems] == ["The final order of product 3 (BEVERAGES)", "The final order of product 12 (GROCERY I)"]
    assert confirmation_problems(sheet, {3: 150}, {3: "rain"}) == []


def test_bad_quantities_and_unknown_products_are_refused(sheet):
    with pytest.raises(ValueError, match=r"The final order of product 3 is -1; enter a number of units \(0 or more\)"):
        confirmation_lines(sheet, {3: -1})
    with pytest.raises(ValueError, match="is 'lots', not a number"):
        confirmation_lines(sheet, {3: "lots"})
    with pytest.raises(ValueError, match="Product 7 is not on the order sheet of store 44 for 2017-03-15; pick one of 3, 12, 42"):
        confirmation_lines(sheet, {7: 1})


def test_sheet_table_has_a_column_per_lead_day_and_the_edits(sheet):
    table = sheet_table(sheet, {3: 150}, {3: "rain"}, NAMES)
    assert table.columns[:6] == ["product", "name", "lead_time", "closing_stock", "closing_source", "in_transit"]
    assert [c for c in table.columns if c.startswith("forecast_d")] == ["forecast_d1", "forecast_d2", "forecast_d3"]
    assert table["forecast_d3"].to_list() == [None, None, 3.0]
    assert table["final"].to_list() == [150.0, 0.0, 10.0]
    assert table["change"].to_list() == [pytest.approx(0.5), 0.0, 0.0]
    assert table["reason"].to_list() == ["rain", "", ""]
    assert table["why"].to_list() == ["reason 3", "reason 12", "reason 42"]


def test_tokens_repeat_for_the_same_tab_and_lines_only(sheet):
    a = confirmation_lines(sheet, {3: 110})
    assert confirmation_token("tab1", sheet, a) == confirmation_token("tab1", sheet, confirmation_lines(sheet, {3: 110.0}))
    assert confirmation_token("tab1", sheet, a) != confirmation_token("tab2", sheet, a)
    assert confirmation_token("tab1", sheet, a) != confirmation_token("tab1", sheet, confirmation_lines(sheet, {3: 111}))


def test_confirm_sheet_writes_a_version_and_a_double_submit_does_not(sheet, tmp_path):
    ledger = OrderLedger(tmp_path / "ledger.sqlite")
    first = confirm_sheet(sheet, {3: 150}, {3: "rain"}, client_token="x", ledger=ledger)
    assert first.message == "Confirmed version 1 for store 44, date 2017-03-15"
    assert confirm_sheet(sheet, {3: 150}, {3: "rain"}, client_token="x", ledger=ledger).version == 1
    assert confirm_sheet(sheet, ledger=ledger).version == 2  # a new token each call by default
    with pytest.raises(ValueError, match="write a short reason"):
        confirm_sheet(sheet, {3: 150}, ledger=ledger)
    assert ledger.confirmations(44, D)["version"].to_list() == [2, 1]
    assert ledger.latest(44, D)["final_qty"].to_list() == [100.0, 0.0, 10.0]
