"""Confirming an order sheet as a signed-in user: permission for the sheet's store first, then the ledger row carries the e-mail."""

from __future__ import annotations

from engine.access.guard import require, signature
from engine.access.roles import User
from engine.access.stock import record_count
from engine.ordering.confirmation import Confirmation, confirm_sheet


def confirm_orders(user: User, sheet, final: dict | None = None, reasons: dict | None = None, client_token: str | None = None,
                   ledger=None, names: dict[int, str] | None = None) -> Confirmation:
    """``confirm_sheet`` for ``user``: refused (``AccessDenied``, nothing written) unless they may confirm for the sheet's store."""
    require(user, "confirm", int(sheet.store))
    return confirm_sheet(sheet, final, reasons, client_token=client_token, confirmed_by=signature(user), ledger=ledger, names=names)


def confirm_at_close(user: User, ds, sheet, final: dict | None, reasons: dict | None, counted: dict[int, float], book,
                     already: dict[int, float], client_token: str | None = None, names: dict[int, str] | None = None) -> Confirmation:
    """What Confirm does on the Orders page: the sheet into the ledger, then each count typed at this close into the
    stock book once (``already``: the counts saved by earlier presses, updated in place; a changed count is a new
    entry). Both need the user's permission for the store; a refused confirmation writes nothing."""
    done = confirm_orders(user, sheet, final, reasons, client_token=client_token, ledger=book.ledger, names=names)
    for product, qty in counted.items():
        if already.get(product) != qty:
            record_count(user, ds, book, sheet.store, product, sheet.date, qty, reason="counted at close (Orders page)")
            already[product] = qty
    return done
