"""The audit log: one JSON line per signed change that has no record of its own (uploads, index rebuilds, batch runs).

Confirmations are signed in the ledger itself (``confirmed_by``); everything else that changes
the app's state appends ``{"at", "by", "role", "action", ...}`` to ``<state>/audit.jsonl``.
Append-only; a reader skips a line it cannot parse (a crash mid-write) instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from engine.access.roles import User
from engine.data.storage import state_location

AUDIT_FILE = "audit.jsonl"


def audit_path(data: Path | str | None = None) -> Path:
    """``<state>/audit.jsonl`` for the data folder (reading it creates nothing)."""
    return state_location(data).path / AUDIT_FILE


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record(user: User, action: str, data: Path | str | None = None, **details) -> dict:
    """Append one signed change to the audit log and return it."""
    entry = {"at": now(), "by": user.email, "role": user.role, "local": user.local, "action": action, **details}
    line = json.dumps(entry, default=str, ensure_ascii=False) + "\n"
    path = audit_path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def read_audit(data: Path | str | None = None, limit: int | None = None) -> list[dict]:
    """The audit log, newest first."""
    path = audit_path(data)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    entries.reverse()
    return entries[:limit] if limit is not None else entries
