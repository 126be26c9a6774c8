"""Rebuilding the "Ask the data" index as a signed-in user: permission first, then an audit line."""

from __future__ import annotations

from pathlib import Path

from engine.access.audit import record
from engine.access.guard import require
from engine.access.roles import User
from engine.ask.answer import ensure_index


def rebuild_index(user: User, data_folder: Path | str, ds=None, progress=None) -> dict:
    """``ensure_index(force=True)`` for ``user``: refused (``AccessDenied``, nothing built) unless they may rebuild it."""
    require(user, "rebuild_index")
    status = ensure_index(data_folder, ds, progress=progress, force=True)
    record(user, "rebuild_index", data_folder, documents=(status or {}).get("documents"))
    return status
