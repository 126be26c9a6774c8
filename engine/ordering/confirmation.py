"""From an order sheet and the buyer's edits to a confirmed version in the ledger.

Shared by the Orders page and ``python -m engine confirm``: the buyer may type the real closing
count (the sheet is then recomputed by ``order_sheet(..., closing_stock=...)``), change a final
quantity and give a reason. A final quantity that differs from the recommendation by more than
20 % needs a short reason; without one the confirmation is refused with a sentence naming the
product.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from engine.ordering.ledger import OrderLedger

CHANGE_LIMIT = 0.20  # a final quantity further than this from the recommendation needs a reason


def change_ratio(recommended: float, final: float) -> float:
    """|final − recommended| / recommended (inf when only the final is nonzero, 0 when both are 0)."""
    if recommended == 0:
        return 0.0 if final == 0 else math.inf
    return abs(final - recommended) / recommended


def needs_reason(recommended: float, final: float) -> bool:
    """True when the change from the recommendation is more than 20 %."""
    return change_ratio(recommended, final) > CHANGE_LIMIT + 1e-12


def _number(value, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        q = float(str(value).replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is {value!r}, not a number; enter a number of units (0 or more).") from None
    if math.isnan(q):
        return None
    if not math.isfinite(q) or q < 0:
        raise ValueError(f"{what} is {value!r}; enter a number of units (0 or more).")
    return q


def _fmt(q: float) -> str:
    return f"{q:,.0f}" if float(q).is_integer() else f"{q:,.2f}"


def _describe(product: int, names: dict[int, str] | None) -> str:
    name = (names or {}).get(product)
    return f"product {product} ({name})" if name else f"product {product}"


def confirmation_problems(sheet, final: dict | None = None, reasons: dict | None = None,
                          names: dict[int, str] | None = None) -> list[str]:
    """Every reason the edits cannot be confirmed yet, one sentence each (empty list = ready)."""
    try:
        lines = _lines(sheet, final, reasons, names, collect=True)
    except ValueError as exc:
        return [str(exc)]
    return [line for line in lines if isinstance(line, str)]


def confirmation_lines(sheet, final: dict | None = None, reasons: dict | None = None,
                       names: dict[int, str] | None = None) -> list[dict]:
    """Ledger lines (``product, recommended, final, reason``) for every line of the sheet.

    ``final``: {product: quantity}; a product not in it (or None / blank) keeps the recommendation.
    ``reasons``: {product: text}. Raises ValueError (first problem, one sentence) when an edit is invalid.
    """
    return _lines(sheet, final, reasons, names, collect=False)


def _lines(sheet, final, reasons, names, collect: bool) -> list:
    final = dict(final or {})
    reasons = {int(k): (str(v).strip() if v is not None and not (isinstance(v, float) and math.isnan(v)) else "")
               for k, v in (reasons or {}).items()}
    by_product = {line.product: line for line in sheet.lines}
    unknown = [p for p in (*final, *[p for p, r in reasons.items() if r]) if int(p) not in by_product]
    if unknown:
        raise ValueError(f"Product {unknown[0]} is not on the order sheet of store {sheet.store} for {sheet.date}; "
                         f"pick one of {', '.join(str(p) for p in by_product)}.")
    final = {int(k): v for k, v in final.items()}
    out: list = []
    for product, line in by_product.items():
        recommended = float(line.recommended)
        try:
            quantity = _number(final.get(product), f"The final order of {_describe(product, names)}")
        except ValueError as exc:
            if not collect:
                raise
            out.append(str(exc))
            continue
        quantity = recommended if quantity is None else quantity
        reason = reasons.get(product) or None
        if needs_reason(recommended, quantity) and not reason:
            ratio = change_ratio(recommended, quantity)
            how = "more than the recommended 0" if math.isinf(ratio) else f"{ratio:.0%} away from the recommended {_fmt(recommended)}"
            sentence = (f"The final order of {_describe(product, names)} is {_fmt(quantity)}, {how}: "
                        f"write a short reason for a change of more than {CHANGE_LIMIT:.0%}.")
            if not collect:
                raise ValueError(sentence)
            out.append(sentence)
            continue
        out.append({"product": product, "recommended": recommended, "final": quantity, "reason": reason})
    return out


@dataclass
class Confirmation:
    store: int
    date: dt.date
    version: int
    lines: list[dict] = field(default_factory=list)
    ledger: str = ""

    @property
    def message(self) -> str:
        return f"Confirmed version {self.version} for store {self.store}, date {self.date}"

    def to_dict(self) -> dict:
        return {"store": self.store, "date": self.date.isoformat(), "version": self.version, "message": self.message,
                "ledger": self.ledger, "lines": self.lines}


def new_client_token() -> str:
    """A fresh token for one confirmation (the CLI's default)."""
    return uuid.uuid4().hex


def confirmation_token(session: str, sheet, lines: list[dict]) -> str:
    """The token of one rendered sheet in one browser tab: the same tab sending the same lines again (a double
    click, a resubmit) gets the same token, hence the same version; another tab (session) gets its own token."""
    content = json.dumps([session, int(sheet.store), sheet.date.isoformat(),
                          sorted((int(x["product"]), float(x["recommended"]), float(x["final"]), x.get("reason") or "") for x in lines)])
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def product_names(ds) -> dict[int, str]:
    """Product id -> SubCategory (how the staff know the products)."""
    return dict(zip(ds.products["Product_ID"].to_list(), ds.products["SubCategory"].cast(str).to_list()))


def confirm_sheet(sheet, final: dict | None = None, reasons: dict | None = None, client_token: str | None = None,
                  confirmed_by: str | None = None, ledger=None, names: dict[int, str] | None = None) -> Confirmation:
    """Check the edits, append them to the ledger as a new version of (store, date) and return it."""
    lines = confirmation_lines(sheet, final, reasons, names)
    ledger = ledger if ledger is not None else OrderLedger()
    if isinstance(ledger, (str, Path)):
        ledger = OrderLedger(ledger)
    by_product = {line.product: line for line in sheet.lines}
    kept = [{**x, "lead_time": by_product[x["product"]].lead_time, "model": by_product[x["product"]].model,
             "forecast": float(sum(by_product[x["product"]].forecasts)), "baseline": getattr(by_product[x["product"]], "baseline", None)}
            for x in lines]  # the sheet's forecasts are kept beside the lines (the after-the-fact report reads them)
    version = ledger.confirm(sheet.store, sheet.date, kept, client_token or new_client_token(), confirmed_by=confirmed_by)
    return Confirmation(int(sheet.store), sheet.date, version, lines, str(ledger.path))


def sheet_table(sheet, final: dict | None = None, reasons: dict | None = None, names: dict[int, str] | None = None) -> pl.DataFrame:
    """The order sheet as the page and the CSV show it: one row per product, forecasts as forecast_d1..dL,
    then the final quantity (default: the recommendation), its change from the recommendation and the reason."""
    final = {int(k): v for k, v in (final or {}).items()}
    reasons = {int(k): v for k, v in (reasons or {}).items()}
    width = max((len(line.forecasts) for line in sheet.lines), default=0)
    rows = []
    for line in sheet.lines:
        quantity = _number(final.get(line.product), "final") if line.product in final else None
        quantity = float(line.recommended) if quantity is None else quantity
        row = {"product": line.product, "name": (names or {}).get(line.product, ""), "lead_time": line.lead_time,
               "closing_stock": float(line.closing_stock), "closing_source": line.closing_source,
               "in_transit": float(line.in_transit)}
        for d in range(width):
            row[f"forecast_d{d + 1}"] = float(line.forecasts[d]) if d < len(line.forecasts) else None
        change = change_ratio(float(line.recommended), quantity)
        row |= {"safety_stock": float(line.safety_stock), "recommended": int(line.recommended), "why": line.reason,
                "final": quantity, "change": None if math.isinf(change) else change,
                "reason": reasons.get(line.product) or "", "pack_size": line.pack_size, "model": line.model}
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)
