"""Confirming an order sheet as a signed-in user: permission for the sheet's store first, then the ledger row carries the e-mail."""

from __future__ import annotations

from engine.access.guard import require, signature
from engine.access.roles import User
from engine.ordering.confirmation import Confirmation, confirm_sheet


def confirm_orders(user: User, sheet, final: dict | None = None, reasons: dict | None = None, client_token: str | None = None,
                   ledger=None, names: dict[int, str] | None = None) -> Confirmation:
    """``confirm_sheet`` for ``user``: refused (``AccessDenied``, nothing written) unless they may confirm for the sheet's store."""
    require(user, "confirm", int(sheet.store))
    return confirm_sheet(sheet, final, reasons, client_token=client_token, confirmed_by=signature(user), ledger=ledger, names=names)
