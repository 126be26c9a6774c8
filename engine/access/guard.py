"""Permissions: which role may do which action (and for which stores), and the one-sentence refusal.

``allowed(user, action, store)`` is for the pages (hide what a role may not do); ``require``
is for the engine (refuse it anyway, so a crafted request cannot do it either). The stock book
calls ``require(user, "count", store)`` / ``require(user, "receive", store)`` before it writes.
"""

from __future__ import annotations

from engine.access.roles import ROLES, User

ACTIONS = {
    "read": "read the dashboard",
    "confirm": "confirm orders",
    "count": "record stock counts",
    "receive": "record receipts",
    "upload": "upload new data",
    "rebuild_index": "rebuild the Ask index",
    "run_batch": "run the nightly batch",
}
STORE_ACTIONS = frozenset({"confirm", "count", "receive"})  # a buyer may do these only for their own stores
PERMISSIONS = {
    "buyer": frozenset({"read", "confirm", "count", "receive"}),
    "data": frozenset({"read", "upload", "rebuild_index", "run_batch"}),
    "executive": frozenset({"read"}),
    "admin": frozenset(ACTIONS),
}


class AccessDenied(ValueError):
    """A refused action; its message is one sentence: who, what, why (and what to do)."""


def refusal(user: User | None, action: str, store: int | None = None) -> str | None:
    """Why ``user`` may not do ``action`` (for ``store``), as one sentence; None when allowed."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}; the actions are {', '.join(ACTIONS)}.")
    what = ACTIONS[action] + (f" for store {int(store)}" if store is not None and action in STORE_ACTIONS else "")
    if user is None:
        return f"Nobody is signed in, so nobody may {what}: sign in first."
    if user.unverified:
        return (f"{user.email} may not {what}: the identity provider says this e-mail address is not verified; "
                f"verify it with the provider, then sign in again.")
    if user.role is None:
        return (f"{user.label} may not {what}: this account is not in the roles file, "
                f"so it has no role; ask an admin to add it to roles.toml (docs/auth.md).")
    if action not in PERMISSIONS[user.role]:
        return f"{user.label} may not {what}: {_role_phrase(user.role)}; ask an admin if your role should change."
    if action in STORE_ACTIONS and store is not None and user.stores is not None and int(store) not in user.stores:
        own = ", ".join(map(str, user.stores)) or "none"
        return (f"{user.label} may not {what}: a buyer may {ACTIONS[action]} only for their own stores ({own}); "
                f"ask an admin to add store {int(store)} to your entry in roles.toml.")
    return None


def _role_phrase(role: str) -> str:
    subject = {"buyer": "a buyer", "data": "the data team", "executive": "an executive", "admin": "an admin"}[role]
    return f"{subject} {ROLES[role]}"


def allowed(user: User | None, action: str, store: int | None = None) -> bool:
    """True when ``user`` may do ``action`` (for ``store``)."""
    return refusal(user, action, store) is None


def require(user: User | None, action: str, store: int | None = None) -> User:
    """Return ``user`` when allowed; otherwise raise ``AccessDenied`` with the refusal sentence."""
    reason = refusal(user, action, store)
    if reason is not None:
        raise AccessDenied(reason)
    return user


def signature(user: User) -> str:
    """What a change records as its author: the e-mail (local mode: the OS user)."""
    return user.email
