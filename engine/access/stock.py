"""Stock counts and receipts as a signed-in user: permission for the store first, then the entry carries the e-mail."""

from __future__ import annotations

from engine.access.guard import require, signature
from engine.access.roles import User
from engine.ordering.stockbook import StockBook, count_stock


def record_count(user: User, ds, book: StockBook, store: int, product: int, date, counted, reason: str | None = None):
    """``count_stock`` for ``user``: refused (``AccessDenied``, nothing written) unless they may count stock at ``store``."""
    require(user, "count", int(store))
    return count_stock(ds, book, store, product, date, counted, by=signature(user), reason=reason)
