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


def _readable(frame: pl.DataFrame) -> pl.DataFrame:
    """Confirmation times as 'YYYY-MM-DD HH:MM:SS' (UTC) and no empty signer."""
    return frame.with_columns(pl.col("confirmed_at").str.slice(0, 19).str.replace("T", " "), pl.col("confirmed_by").fill_null(""))


def ledger_view(ledger, store: int, date, names: dict[int, str]) -> dict:
    """What the Orders page shows of the ledger: ``versions`` of the store's close (newest first), the ``latest``
    version in one sentence (None when nothing is confirmed), ``lines`` per version (product labelled), and the
    ``recent`` confirmations of every store."""
    versions = ledger.confirmations(store, date)
    history = ledger.history(store, date)
    recent = ledger.confirmations(limit=10)
    latest = None
    if not versions.is_empty():
        top = versions.row(0, named=True)
        latest = (f"Latest: **version {top['version']}**, confirmed {top['confirmed_at'][:19].replace('T', ' ')} UTC"
                  f"{' by ' + top['confirmed_by'] if top['confirmed_by'] else ''}: {top['products']} products, "
                  f"{top['final_total']:,.0f} units, {top['changed']} changed from the recommendation.")
    label = pl.format("{} · {}", "product_id", pl.col("product_id").replace_strict(names, default="", return_dtype=pl.String))
    lines = {v: g.select(label.alias("product"), "recommended_qty", "final_qty", pl.col("reason").fill_null(""))
             for (v,), g in history.group_by("version")}
    return {"versions": _readable(versions.drop("confirmation_id", "store_id", "order_date")) if not versions.is_empty() else versions,
            "latest": latest, "lines": lines, "recent": _readable(recent.drop("confirmation_id")) if not recent.is_empty() else recent}


def exceptions_text(needs: pl.DataFrame, shown: int = 10) -> str:
    """The 'needs a human first' block above the sheet (Markdown): the ``shown`` most expensive lines, or one
    sentence saying that nothing needs a human."""
    if needs.is_empty():
        return ("Nothing needs a human tonight: no line runs out before its next arrival, no forecast is far from last week's, "
                "no count is far from the book and no override breaks the 20 % rule.")
    out = [f"**Needs a human first** · {needs.height} line(s), most expensive first (expected cost: lost margin + holding)", ""]
    out += [f"{i}. **{r['expected_cost']:,.2f}** · {r['kind']} · {r['detail']}" for i, r in enumerate(needs.head(shown).to_dicts(), 1)]
    if needs.height > shown:
        out += ["", f"… and {needs.height - shown} more (cheaper) line(s)."]
    return "\n".join(out)
