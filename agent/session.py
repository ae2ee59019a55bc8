"""Sessions in SQLite: every event and message of a run, so a run can be read or resumed.

The database is private to the user (it holds code and command output), and what one
event or message may store is bounded: long text is cut with a marker, so a runaway reply
or output cannot grow the file by more than a few hundred kB per record.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.events import Result
from agent.storage import os_reason, private_database, private_dir

# Characters of long text one stored event or message may hold; strings up to SHORT_TEXT
# (ids, names, types, paths) are never cut, so every record still parses as what it was.
MAX_STORED_CHARS = 200_000
SHORT_TEXT = 1_000
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    workspace TEXT NOT NULL,
    model TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""


class SessionInfo(BaseModel):
    id: str
    created: float
    updated: float
    workspace: str
    model: str
    title: str
    status: str


class SessionStore:
    """One SQLite file shared by every Shipmate process of the user (WAL, busy timeout)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None
        try:
            private_dir(path.parent)
            private_database(path)
            self.db = self._open(str(path))
        except (OSError, sqlite3.Error) as error:
            why = os_reason(error) if isinstance(error, OSError) else str(error)
            self.problem = (
                f"This run's history cannot be saved: {path} cannot be written ({why}); the "
                "run goes on without it."
            )
            self.db = self._open(":memory:")
        self._seq: dict[str, int] = {}

    @staticmethod
    def _open(where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"written by a newer Shipmate (schema {version})")
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return db

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        """A failed write (disk full, locked for too long) loses history, never the run."""
        try:
            self.db.execute(sql, params)
        except sqlite3.Error as error:
            self.problem = self.problem or (
                f"This run's history is incomplete: {self.path} refused a write ({error}); the "
                "run goes on without it."
            )

    def create(self, session_id: str, workspace: Path, model: str, title: str) -> None:
        now = time.time()
        self._write(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, 'running', NULL)",
            (session_id, now, now, str(workspace), model, title[:200]),
        )

    def add_event(self, session_id: str, event: BaseModel) -> None:
        seq = self._seq.get(session_id, 0)
        self._seq[session_id] = seq + 1
        data = _stored(event.model_dump(mode="json"))
        kind = getattr(event, "type", type(event).__name__)
        self._write("INSERT INTO events VALUES (?, ?, ?, ?)", (session_id, seq, kind, data))

    def add_message(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO messages VALUES (?, ?, ?)",
            (session_id, seq, _stored(message)),
        )
        self._write("UPDATE sessions SET updated=? WHERE id=?", (time.time(), session_id))

    def finish(self, result: Result) -> None:
        self._write(
            "UPDATE sessions SET status=?, result=?, updated=? WHERE id=?",
            (
                result.status,
                _stored(result.model_dump(mode="json")),
                time.time(),
                result.session_id,
            ),
        )

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT data FROM messages WHERE session_id=? ORDER BY seq", (session_id,)
        )
        return [json.loads(data) for (data,) in rows]

    def events(self, session_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT data FROM events WHERE session_id=? ORDER BY seq", (session_id,)
        )
        return [json.loads(data) for (data,) in rows]

    def get(self, session_id: str) -> SessionInfo | None:
        row = self.db.execute(
            "SELECT id, created, updated, workspace, model, title, status FROM sessions WHERE id=?",
            (session_id,),
        ).fetchone()
        return (
            None
            if row is None
            else SessionInfo(**dict(zip(SessionInfo.model_fields, row, strict=True)))
        )

    def close(self) -> None:
        self.db.close()


def _stored(record: Any) -> str:
    """``record`` as JSON, within about ``MAX_STORED_CHARS`` characters of text.

    Every string is charged against the room, in order. A long string past the room keeps
    its start and a marker of what was cut; short strings (ids, names, types) stay whole,
    and once the room is spent a list keeps its first item only, so a record of many short
    strings is bounded too, and the JSON still reads back as what it was.
    """
    room = MAX_STORED_CHARS

    def cut(value: Any) -> Any:
        nonlocal room
        if isinstance(value, dict):
            kept: dict[Any, Any] = {}
            for key, item in value.items():
                room -= len(key) if isinstance(key, str) else 0
                kept[key] = cut(item)
            return kept
        if isinstance(value, list | tuple):
            items: list[Any] = []
            for item in value:
                if room <= 0 and items:
                    break
                items.append(cut(item))
            return items
        if not isinstance(value, str):
            return value
        if len(value) <= SHORT_TEXT:
            room -= len(value)
            return value
        keep = max(0, min(len(value), room))
        room -= keep
        if keep == len(value):
            return value
        return f"{value[:keep]}… [{len(value) - keep:,} characters cut]"

    return json.dumps(cut(record), separators=(",", ":"))
