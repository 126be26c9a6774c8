"""Answer cache and question log of "Ask the data", both under the state folder beside the data.

- ``ask_cache.sqlite``: (question, data version, backend, model) -> the Answer as JSON. The key is a
  sha256 of those four; nothing about the API key or the endpoint's credentials goes in.
- ``ask_log.jsonl``: one line per question: time, question, route, SQL, sources, latency, backend,
  model, cached — never a secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import threading
from pathlib import Path

_LOCK = threading.Lock()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def normalize_question(question: str) -> str:
    return re.sub(r"\s+", " ", question or "").strip().lower()


def cache_key(question: str, data_version: str, backend: str, model: str | None) -> str:
    raw = json.dumps([normalize_question(question), data_version, backend, model or ""], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


class AnswerCache:
    """A small SQLite key -> JSON store (WAL, one row per question/version/backend/model)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._run("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, question TEXT NOT NULL, "
                  "answer_json TEXT NOT NULL, created_at TEXT NOT NULL)")

    def _run(self, sql: str, params: tuple = ()):
        """One statement in its own transaction; its first row."""
        with _LOCK, sqlite3.connect(self.path, timeout=10) as con:
            con.execute("PRAGMA journal_mode=WAL")
            return con.execute(sql, params).fetchone()

    def get(self, key: str) -> dict | None:
        row = self._run("SELECT answer_json FROM answers WHERE key = ?", (key,))
        return json.loads(row[0]) if row else None

    def put(self, key: str, question: str, answer: dict) -> None:
        text = json.dumps(answer, ensure_ascii=False, default=str)
        self._run("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", (key, question, text, _now()))

    def clear(self) -> None:
        self._run("DELETE FROM answers")


def append_log(path: Path, record: dict) -> None:
    """Append one JSON line (the caller passes only non-secret fields)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": _now(), **record}, ensure_ascii=False, default=str)
    with _LOCK, open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
