"""Exceptions first: the lines of an order sheet that need a human, ranked by expected cost in money.

Four kinds, each with its expected cost (lost margin per unit short = MARGIN_SHARE x price; holding
cost per unit-day = the stock value, 50 % of the price, x the yearly carrying rate / 365):

- **runs out before the next arrival**: on hand + in transit is below the point forecast of the
  days before tonight's order can arrive (d+1 .. d+L−1): the expected units short x margin;
- **forecast far from last week's**: the lead-window forecast differs from the demand of the same
  days a week earlier by more than FORECAST_GAP: the gap priced as lost margin when the forecast is
  lower (the risk is running short) and as HOLD_DAYS of holding when it is higher;
- **count far from the book**: a count of this close differs from the book by more than COUNT_GAP
  of the book: the shrinkage valued at the stock value (50 % of the price);
- **override above the 20 % rule**: the buyer's final quantity is more than 20 % away from the
  recommendation: the change priced like the forecast gap (fewer units: margin; more: holding).
"""

from __future__ import annotations

import polars as pl

from engine.inventory.kpis import STOCK_VALUE_SHARE
from engine.inventory.quantile_policy import MARGIN_SHARE, holding_cost
from engine.ordering.confirmation import change_ratio, needs_reason

FORECAST_GAP = 0.30
COUNT_GAP = 0.10
HOLD_DAYS = 7
SCHEMA = {"product": pl.Int64, "kind": pl.String, "detail": pl.String, "expected_cost": pl.Float64}


def _gap_cost(units: float, price: float) -> float:
    """Fewer units than needed (units > 0): lost margin; more (units < 0): a week of holding."""
    return units * price * MARGIN_SHARE if units > 0 else -units * holding_cost(price) * HOLD_DAYS


def sheet_exceptions(sheet, final: dict | None = None, book=None, names: dict[int, str] | None = None) -> pl.DataFrame:
    """One row per exception (product, kind, one-sentence detail, expected cost), most expensive first."""
    final = {int(k): v for k, v in (final or {}).items() if v is not None}
    counts = book.counts(sheet.store) if book is not None else None
    rows = []
    for ln in sheet.lines:
        name = f"{ln.product} · {(names or {}).get(ln.product, '')}".rstrip(" ·")
        price = float(ln.price)
        early = float(sum(ln.forecasts[: max(ln.lead_time - 1, 0)]))
        short = early - float(ln.closing_stock) - float(ln.in_transit)
        if ln.lead_time > 1 and short > 0:
            rows.append((ln.product, "runs out before the next arrival",
                         f"{name}: on hand {ln.closing_stock:,.0f} + in transit {ln.in_transit:,.0f} cover less than the {early:,.0f} "
                         f"forecast before tonight's order arrives ({short:,.0f} units short)", short * price * MARGIN_SHARE))
        total = float(sum(ln.forecasts))
        if ln.last_week is not None and ln.last_week > 0 and abs(total - ln.last_week) / ln.last_week > FORECAST_GAP:
            rows.append((ln.product, "forecast far from last week's",
                         f"{name}: forecast {total:,.0f} for the next {ln.lead_time} days vs {ln.last_week:,.0f} sold on the same days "
                         f"last week ({(total - ln.last_week) / ln.last_week:+.0%})", _gap_cost(ln.last_week - total, price)))
        if counts is not None and counts.height:
            mine = counts.filter((pl.col("product_id") == ln.product) & (pl.col("count_date") == sheet.date) & pl.col("book_qty").is_not_null())
            if mine.height:
                c = mine.row(mine.height - 1, named=True)
                book_qty, gap = float(c["book_qty"]), float(c["shrinkage"])
                if abs(gap) > COUNT_GAP * max(book_qty, 1.0):
                    rows.append((ln.product, "count far from the book",
                                 f"{name}: counted {c['counted_qty']:,.0f} where the book said {book_qty:,.0f} "
                                 f"({'missing' if gap > 0 else 'found'} {abs(gap):,.0f} units, by {c['entered_by']})",
                                 abs(gap) * price * STOCK_VALUE_SHARE))
        try:
            q = float(str(final[ln.product]).replace(",", "")) if ln.product in final else None
        except ValueError:
            q = None  # not a number: the confirmation says so in its own sentence
        if q is not None and q == q:
            if needs_reason(float(ln.recommended), q):
                ratio = change_ratio(float(ln.recommended), q)
                how = "from 0" if ratio == float("inf") else f"{(q - ln.recommended) / ln.recommended:+.0%}"
                rows.append((ln.product, "override above the 20 % rule",
                             f"{name}: final {q:,.0f} vs recommended {ln.recommended:,.0f} ({how})", _gap_cost(ln.recommended - q, price)))
    frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    return frame.sort("expected_cost", descending=True)
