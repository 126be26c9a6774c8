"""Replacing the data set as a signed-in user: permission first, then the upload is signed.

The folder the upload replaced goes to ``backups/<time>/`` (engine.data.storage); this adds
``uploaded_by.json`` there (who replaced that data, when, and what the new data is) and a line
in the audit log, so the backups say who changed the data and when.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.access.audit import now, record
from engine.access.guard import require, signature
from engine.access.roles import User
from engine.data.problems import ValidationReport
from engine.data.storage import data_dir, replace_dataset

UPLOADED_BY = "uploaded_by.json"


def replace_data(user: User, files: dict[str, bytes], data: Path | str | None = None) -> ValidationReport:
    """``replace_dataset`` for ``user``: refused (``AccessDenied``, nothing written) unless they may upload."""
    require(user, "upload")
    folder = Path(data) if data else data_dir()
    report = replace_dataset(files, folder)
    if not report.ok:
        return report
    sign = {"uploaded_by": signature(user), "role": user.role, "uploaded_at": now(), "files": sorted(Path(n).name for n in files),
            "sales_rows": report.summary.get("sales_rows"), "replaced": report.summary.get("backup")}
    if report.summary.get("backup"):
        (Path(report.summary["backup"]) / UPLOADED_BY).write_text(
            json.dumps({**sign, "note": "this folder is the data in use before that upload"}, indent=2) + "\n", encoding="utf-8")
    record(user, "upload", folder, files=sign["files"], sales_rows=sign["sales_rows"], backup=sign["replaced"])
    return report


def uploads(data: Path | str | None = None) -> list[dict]:
    """Who replaced the data and when, newest first (from the backups' ``uploaded_by.json``)."""
    from engine.data.storage import list_backups

    out = []
    for backup in list_backups(Path(data) if data else None):
        path = backup / UPLOADED_BY
        if path.exists():
            try:
                out.append({"backup": str(backup), **json.loads(path.read_text(encoding="utf-8"))})
            except (OSError, json.JSONDecodeError):
                continue
    return out
