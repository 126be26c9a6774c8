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
