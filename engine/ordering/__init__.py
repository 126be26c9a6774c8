"""Ordering at close: the order sheet, the confirmation rules and the append-only ledger.

`sheet` builds tomorrow's order per product, `confirmation` applies the buyer's overrides and the
20 % rule, `ledger` stores confirmed orders (append-only SQLite, WAL).
"""
