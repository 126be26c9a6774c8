"""Where the app's data lives, and replacing it safely.

The current data set is a folder (``data/current`` unless ``KMART_DATA`` says otherwise).
An upload is written to a staging folder beside it and validated there; only a valid upload
replaces the current folder, and the replaced folder is moved to ``data/backups/<time>``.
Nothing is ever deleted: a failed upload leaves the current data untouched.

What the app writes about a data set (order ledger, fitted models, Ask index, batch outputs) is
its state folder, decided in one place, ``state_location``: ``KMART_STATE`` when set, else
``<data>/../state`` beside the data when that can be written, else a per-user cache folder
(``~/.cache/kmart/<hash of the data path>``) so a read-only data folder still works.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.data.dataset import read_dataset
from engine.data.problems import Problem, ValidationReport
from engine.data.schema import FILE_SUFFIXES, TABLES

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder with Home.py (this file is engine/data/storage.py)


def data_dir() -> Path:
    """The folder of the current data set."""
    return Path(os.environ.get("KMART_DATA", PROJECT_ROOT / "data" / "current")).resolve()


STATE_ENV = "KMART_STATE"


@dataclass(frozen=True)
class StateLocation:
    """Where the state of a data set lives and why there (``reason`` is a phrase for people)."""

    path: Path
    reason: str  # "set by KMART_STATE" | "beside the data" | "in the per-user cache: ... is read-only"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "reason": self.reason}


def _writable(folder: Path) -> bool:
    """The nearest existing folder at or above ``folder`` can be written, and is not marked read-only.

    The mode bits are checked as well as ``os.access``: an administrator (root) may write anywhere,
    yet a folder whose write bits are all off (``chmod a-w``) is meant to be left alone.
    """
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(folder, os.W_OK | os.X_OK)


def user_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kmart"


def state_location(data: Path | str | None = None) -> StateLocation:
    """The one decision of where the state of ``data`` lives. Creates nothing."""
    if os.environ.get(STATE_ENV):
        return StateLocation(Path(os.environ[STATE_ENV]).expanduser().resolve(), f"set by {STATE_ENV}")
    data = Path(data).resolve() if data else data_dir()
    beside = data.parent / "state"
    if _writable(beside):
        return StateLocation(beside, "beside the data")
    key = hashlib.sha256(str(data).encode()).hexdigest()[:16]
    return StateLocation(user_cache_dir() / key, f"in the per-user cache: {beside} cannot be written")


def state_dir(data: Path | None = None) -> Path:
    """Folder for what the app writes about a data set (ledger, models, index), created if needed."""
    path = state_location(data).path
    path.mkdir(parents=True, exist_ok=True)
    return path


STATE_INPUTS = ("ledger.sqlite", "ledger.sqlite-wal", "models/*/meta.json", "uploads/*", "batch/*.parquet", "batch/summary.json")


def state_stamp(data: Path | str | None = None, include_state: bool = True) -> str:
    """What "has the data (or the app's state) changed" means, in one place: a short hash.

    Over (name, size, mtime_ns) of the data folder's files and, with ``include_state``, of what the
    app writes beside them that others read (``STATE_INPUTS``: the ledger and stock book, fitted
    models' metadata, uploaded notes, the batch's outputs). Derived files (the Ask index, its cache
    and log) are not inputs. Stat calls only, so it is cheap enough to call on every page run;
    caches key on it (the pages' dataset cache with ``include_state=False``, the Ask index and SQL
    engine with the state).
    """
    data = Path(data) if data else data_dir()
    h = hashlib.sha256()
    paths = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else []
    if include_state:
        state = state_location(data).path
        for pattern in STATE_INPUTS:
            paths += sorted(state.glob(pattern))
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path.parent.name}/{path.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def backups_dir(data: Path | None = None) -> Path:
    data = Path(data) if data else data_dir()
    return data.parent / "backups"


def list_backups(data: Path | None = None) -> list[Path]:
    folder = backups_dir(data)
    return sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True) if folder.is_dir() else []


def _timestamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def replace_dataset(files: dict[str, bytes], data: Path | None = None) -> ValidationReport:
    """Validate uploaded files (file name -> bytes) and, only if valid, make them the current data.

    Every one of the five tables must be in the upload. The old folder goes to backups/.
    """
    data = Path(data) if data else data_dir()
    if not _writable(data.parent):
        report = ValidationReport("the upload")
        report.add(Problem(str(data.parent), "the folder cannot be written, so new data cannot replace the current data; "
                                             "make it writable or set KMART_DATA to a data folder in a writable place."))
        return report
    data.parent.mkdir(parents=True, exist_ok=True)
    staging = data.parent / f".staging-{_timestamp()}"
    staging.mkdir()
    report = ValidationReport(str(staging))
    try:
        for name, content in files.items():
            base = Path(name).name
            if Path(base).suffix.lower() not in FILE_SUFFIXES or Path(base).stem.lower() not in (*TABLES, "holidays"):
                report.add(Problem(base, f"this file is not one of the tables; name it {', '.join(f'{t}.csv' for t in TABLES)} (or .parquet).", level="warning"))
                continue
            (staging / base).write_bytes(content)
        ds, checked = read_dataset(staging)
        checked.warnings = report.warnings + checked.warnings
        checked.folder = "the upload"
        if not checked.ok:
            return checked
        if data.exists():
            backup = backups_dir(data) / _timestamp()
            backup.parent.mkdir(parents=True, exist_ok=True)
            os.replace(data, backup)
            checked.summary["backup"] = str(backup)
        os.replace(staging, data)
        return checked
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def recover_interrupted_replace(data: Path | None = None) -> Path | None:
    """If a replace was killed between its two renames, put the newest backup back. Returns it."""
    data = Path(data) if data else data_dir()
    if data.exists():
        return None
    backups = list_backups(data)
    if not backups:
        return None
    os.replace(backups[0], data)
    return data
