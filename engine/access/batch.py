"""Running the nightly batch as a signed-in user: permission first, then an audit line."""

from __future__ import annotations

from pathlib import Path

from engine.access.audit import record
from engine.access.guard import require
from engine.access.roles import User
from engine.batch.runner import run_batch as _run_batch
from engine.data.storage import data_dir


def run_batch(user: User, data: Path | str | None = None, **settings) -> dict:
    """``engine.batch.runner.run_batch`` for ``user``: refused (``AccessDenied``, nothing run) unless they may run it."""
    require(user, "run_batch")
    folder = Path(data) if data else data_dir()
    summary = _run_batch(folder, **settings)
    record(user, "run_batch", folder, series_ok=summary.get("series_ok"), series_total=summary.get("series_total"),
           stores=summary.get("stores"), products=summary.get("products"))
    return summary
