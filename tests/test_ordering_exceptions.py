"""Exceptions first: lines that need a human, ranked by expected cost in money."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.inventory.quantile_policy import holding_cost
from engine.ordering.exceptions import HOLD_DAYS, sheet_exceptions
from engine.ordering.sheet import OrderLine, OrderSheet
from engine.ordering.stockbook import StockBook

DAY = dt.date(2017, 3, 15)


def _line(product, price, closing, transit, forecasts, recommended, last_week):
    return OrderLine(store=44, product=product, date=DAY, lead_time=len(forecasts), price=price, pack_size=1, closing_stock=closing,
                     closing_source="book", in_transit=transit, forecasts=forecasts, safety_stock=0.0, safety_form="",
                     recommended=recommended, reason="", model="m", last_week=last_week)


def test_exceptions_are_ranked_by_expected_cost(tmp_path):
    sheet = OrderSheet(44, DAY, "service-level:0.99", [
        _line(3, 2.0, 100, 50, [400, 400], 700, 800),  # runs out: 250 short before the order arrives
        _line(12, 10.0, 5_000, 0, [100, 100], 0, 100),  # forecast 200 vs 100 last week: +100 % (holding)
        _line(8, 1.0, 1_000, 1_000, [500, 500], 100, 1_000),  # fine, but overridden down to 50
        _line(5, 3.0, 1_000, 1_000, [500, 500], 100, 1_000),  # nothing to say
    ])
    book = StockBook(tmp_path / "ledger.sqlite")
    book.add_count(44, 12, DAY, 5_000, book=5_600, by="ana")  # 600 missing: 12 % of the book
    got = sheet_exceptions(sheet, final={8: 50}, book=book)
    rows = got.to_dicts()
    costs = {(r["product"], r["kind"]): r["expected_cost"] for r in rows}
    assert costs[(3, "runs out before the next arrival")] == pytest.approx(250 * 2.0 * 0.5)
    assert costs[(12, "forecast far from last week's")] == pytest.approx(100 * holding_cost(10.0) * HOLD_DAYS)
    assert costs[(12, "count far from the book")] == pytest.approx(600 * 10.0 * 0.5)
    assert costs[(8, "override above the 20 % rule")] == pytest.approx(50 * 1.0 * 0.5)
    assert len(rows) == 4 and not any(r["product"] == 5 for r in rows)
    assert [r["expected_cost"] for r in rows] == sorted((r["expected_cost"] for r in rows), reverse=True)
    assert rows[0]["kind"] == "count far from the book" and "missing 600 units, by ana" in rows[0]["detail"]
    assert "250 units short" in got.filter(got["product"] == 3)["detail"].item()
