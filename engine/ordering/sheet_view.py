"""The Orders page's view of a sheet, computed in the engine so the page only draws it.

``buyer_edits`` turns the editor's edited rows into counts, final orders and reasons; ``editor_frame``
is the table the buyer edits (the unedited values in the editable columns); ``stock_book_sentence``
says which figures come from the book and the ledger.
"""

from __future__ import annotations

import polars as pl

from engine.ordering.confirmation import sheet_table

EDITOR_COLUMNS = ["label", "closing_stock", "in_transit", "forecast", "lead_demand", "safety_stock", "recommended",
                  "final", "change", "reason", "source", "why"]
EDITABLE = ("closing_stock", "final", "reason")


def buyer_edits(edited_rows: dict, products: list[int]) -> tuple[dict, dict, dict]:
    """(counted closing stock, final orders, reasons) per product from the editor's ``edited_rows`` (row index -> change)."""
    edited = {products[int(i)]: change for i, change in (edited_rows or {}).items() if int(i) < len(products)}
    counted = {p: float(c["closing_stock"]) for p, c in edited.items() if c.get("closing_stock") is not None}
    final = {p: c["final"] for p, c in edited.items() if c.get("final") is not None}
    reasons = {p: c["reason"] for p, c in edited.items() if c.get("reason")}
    return counted, final, reasons


def sheet_frame(sheet, final: dict, reasons: dict, names: dict[int, str]) -> pl.DataFrame:
    """``sheet_table`` with the buyer's final orders, or without them while one of them is not a valid quantity
    (the confirmation problems say which)."""
    try:
        return sheet_table(sheet, final, reasons, names)
    except ValueError:
        return sheet_table(sheet, {}, reasons, names)


def editor_frame(base, sheet, final: dict, reasons: dict, names: dict[int, str]) -> pl.DataFrame:
    """The editor's source: ``sheet`` (recomputed with the counts) shown with ``base``'s unedited values in the editable
    columns (stock from the book, the recommendation, no reason): the editor layers the buyer's edits on top and drops
    an edit that equals its source value. A final order the table refuses is left out of the change column."""
    table = sheet_frame(sheet, final, reasons, names)
    lead = table.select(pl.col("^forecast_d\\d+$")).columns
    return table.with_columns(
        pl.Series("closing_stock", [float(line.closing_stock) for line in base.lines]),
        pl.col("recommended").cast(pl.Float64).alias("final"),
        pl.lit("").alias("reason"),
        (pl.col("change") * 100).round(0),
        pl.format("{} · {}", "product", "name").alias("label"),
        pl.Series("forecast", [[f"{x:,.0f}" for x in line.forecasts] for line in sheet.lines], dtype=pl.List(pl.String)),
        pl.sum_horizontal(lead).round(0).alias("lead_demand"),
        pl.col("safety_stock").round(0),
        pl.Series("source", [f"{line.closing_source} / {line.in_transit_source}" + (" · censored" if line.censored else "")
                             for line in base.lines]),
    ).select(EDITOR_COLUMNS)


def stock_book_sentence(base, names: dict[int, str]) -> str | None:
    """Which closing stocks come from the book and which in-transit figures from confirmed orders (None: none do)."""
    from_book = [line for line in base.lines if line.closing_source in ("book", "counted")]
    from_ledger = [line for line in base.lines if "ledger" in line.in_transit_source and line.in_transit > 0]
    parts = []
    if from_book:
        parts.append("closing stock from the book for " + ", ".join(f"{x.product} · {names.get(x.product, '')} {x.closing_stock:,.0f}"
                                                                    for x in from_book))
    if from_ledger:
        parts.append("in transit from confirmed orders: " + ", ".join(f"{x.product} · {names.get(x.product, '')} {x.in_transit:,.0f}"
                                                                     for x in from_ledger))
    return "Stock book: " + "; ".join(parts) + "." if parts else None
