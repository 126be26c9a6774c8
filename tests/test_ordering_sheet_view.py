"""The Orders page's view of a sheet, computed in the engine: the buyer's edits and the stock-book sentence."""

from types import SimpleNamespace

from engine.ordering.sheet_view import buyer_edits, stock_book_sentence


def test_buyer_edits_split_counts_final_orders_and_reasons_by_product():
    rows = {"0": {"closing_stock": 12}, "1": {"final": 40, "reason": "festival"}, "2": {"reason": ""}, "9": {"final": 1}}
    counted, final, reasons = buyer_edits(rows, [3, 12, 42])
    assert counted == {3: 12.0}
    assert final == {12: 40}
    assert reasons == {12: "festival"}  # an empty reason is no reason; row 9 is past the sheet


def _line(product, closing_source, in_transit_source, closing, transit):
    return SimpleNamespace(product=product, closing_source=closing_source, in_transit_source=in_transit_source,
                           closing_stock=closing, in_transit=transit)


def test_stock_book_sentence_names_the_book_and_ledger_figures_only():
    base = SimpleNamespace(lines=[_line(3, "book", "ledger", 1200.0, 4531.0), _line(12, "estimated", "estimated", 80.0, 5.0),
                                  _line(42, "counted", "ledger", 7.0, 0.0)])
    names = {3: "BEVERAGES", 12: "GROCERY I", 42: "SNACKS"}
    assert stock_book_sentence(base, names) == ("Stock book: closing stock from the book for 3 · BEVERAGES 1,200, 42 · SNACKS 7; "
                                                "in transit from confirmed orders: 3 · BEVERAGES 4,531.")
    assert stock_book_sentence(SimpleNamespace(lines=[_line(12, "estimated", "estimated", 80.0, 5.0)]), names) is None


def test_exceptions_text_lists_the_most_expensive_lines_and_counts_the_rest():
    import polars as pl

    from engine.ordering.sheet_view import exceptions_text

    needs = pl.DataFrame({"expected_cost": [float(100 - i) for i in range(12)], "kind": ["runs out"] * 12,
                          "detail": [f"product {i}" for i in range(12)]})
    text = exceptions_text(needs)
    assert text.startswith("**Needs a human first** · 12 line(s)")
    assert "1. **100.00** · runs out · product 0" in text and "10. **91.00** · runs out · product 9" in text
    assert "product 10" not in text and text.endswith("… and 2 more (cheaper) line(s).")
    assert exceptions_text(needs.head(0)).startswith("Nothing needs a human tonight")


def test_ledger_view_reads_versions_lines_and_the_latest_sentence(tmp_path):
    from engine.ordering.ledger import OrderLedger
    from engine.ordering.sheet_view import ledger_view

    ledger = OrderLedger(tmp_path / "ledger.sqlite")
    empty = ledger_view(ledger, 44, "2017-03-15", {})
    assert empty["latest"] is None and empty["versions"].is_empty() and empty["recent"].is_empty() and empty["lines"] == {}
    ledger.confirm(44, "2017-03-15", [{"product": 3, "recommended": 10, "final": 12, "reason": "promo"}], "t1", confirmed_by="ana")
    ledger.confirm(44, "2017-03-15", [{"product": 3, "recommended": 10, "final": 10}], "t2", confirmed_by="ana")
    view = ledger_view(ledger, 44, "2017-03-15", {3: "Grocery"})
    assert view["versions"]["version"].to_list() == [2, 1]
    assert view["latest"].startswith("Latest: **version 2**, confirmed ") and " by ana: 1 products, 10 units" in view["latest"]
    assert view["lines"][1].to_dicts() == [{"product": "3 · Grocery", "recommended_qty": 10.0, "final_qty": 12.0, "reason": "promo"}]
    assert view["lines"][2]["reason"].to_list() == [""]
    assert "T" not in view["versions"]["confirmed_at"][0] and len(view["versions"]["confirmed_at"][0]) == 19
