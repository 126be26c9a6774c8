"""Shared by the Ask tests: a real order ledger written through ``OrderLedger`` (not a hand-copied schema)."""

from __future__ import annotations

from pathlib import Path

from engine.ordering.ledger import OrderLedger


def write_ledger(path: Path, confirmations) -> OrderLedger:
    """``confirmations``: (store, date, [(product, recommended, final, reason), ...], confirmed_by) in order;
    a second confirmation of the same (store, date) becomes version 2, as on the Orders page."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ledger = OrderLedger(path)
    for i, (store, date, lines, by) in enumerate(confirmations):
        ledger.confirm(store, date, [{"product": p, "recommended": r, "final": f, "reason": reason} for p, r, f, reason in lines],
                       client_token=f"test-{i}", confirmed_by=by)
    return ledger
