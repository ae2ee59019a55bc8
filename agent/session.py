"""Sessions in SQLite: every event and message of a run, so a run can be read or resumed.

The database is private to the user (it holds code and command output), and what one
event or message may store is bounded: long text is cut with a marker, so a runaway reply
or output cannot grow the file by more than a few hundred kB per record.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sqlite3
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.events import Compacted, Result
from agent.storage import os_reason, private_database, private_dir
from agent.vcs.checkpoints import Checkpoint

# Characters of long text one stored event or message may hold; strings up to SHORT_TEXT
# (ids, names, types, paths) are never cut, so every record still parses as what it was.
MAX_STORED_CHARS = 200_000
SHORT_TEXT = 1_000
# 2 added sessions.pid: the process running the session, so one killed half-way reads as
# interrupted rather than running forever.
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    workspace TEXT NOT NULL,
    model TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    session_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, turn)
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""


class SessionError(Exception):
    """A session that cannot be found or resumed here; the message says what to do."""


class SessionInfo(BaseModel):
    """A session's record. ``status`` is its last turn's, ``running`` while a process works
    on it, and ``interrupted`` once that process is gone without finishing (killed)."""

    id: str
    created: float
    updated: float
    workspace: str
    model: str
    title: str
    status: str
    pid: int | None = None


class SessionSummary(SessionInfo):
    """A line of ``shipmate sessions``: the record and its turns' results added up."""

    requests: int = Field(0, description="Messages the user sent")
    turns: int = Field(0, description="Model calls, as each result counts them")
    cost_usd: float = 0.0
    files_changed: list[str] = []


_INFO = "id, created, updated, workspace, model, title, status, pid"
# Model calls and cost come from the usage event of every call, so a turn killed half-way
# (no result stored) and the summary calls of compactions are counted too.
_SUMMARY = f"""
SELECT {_INFO},
    (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id AND e.type = 'user_message'),
    (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id AND e.type = 'result'),
    (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id AND e.type = 'usage'),
    (SELECT TOTAL(json_extract(e.data, '$.call.cost_usd')) FROM events e
        WHERE e.session_id = s.id AND e.type = 'usage'),
    (SELECT json_group_array(DISTINCT f.value) FROM events e,
        json_each(e.data, '$.files_changed') f WHERE e.session_id = s.id AND e.type = 'result')
FROM sessions s
"""


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
        if version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")  # another process may be migrating it too
            try:
                columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
                if "pid" not in columns:  # a database of schema 1
                    db.execute("ALTER TABLE sessions ADD COLUMN pid INTEGER")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
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
            f"INSERT INTO sessions ({_INFO}) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            (session_id, now, now, str(workspace), model, one_line(title)[:200], os.getpid()),
        )

    def reopen(self, session_id: str, model: str) -> None:
        """A resumed session runs again, in this process, with this model."""
        self._write(
            "UPDATE sessions SET status='running', pid=?, model=?, updated=? WHERE id=?",
            (os.getpid(), model, time.time(), session_id),
        )

    def add_event(self, session_id: str, event: BaseModel) -> None:
        if session_id not in self._seq:  # a resumed session goes on after its stored events
            self._seq[session_id] = self._next_seq(session_id)
        seq = self._seq[session_id]
        self._seq[session_id] = seq + 1
        data = _stored(event.model_dump(mode="json"))
        kind = getattr(event, "type", type(event).__name__)
        self._write("INSERT INTO events VALUES (?, ?, ?, ?)", (session_id, seq, kind, data))

    def _next_seq(self, session_id: str) -> int:
        try:
            row = self.db.execute(
                "SELECT MAX(seq) FROM events WHERE session_id=?", (session_id,)
            ).fetchone()
        except sqlite3.Error:  # the write that follows says what went wrong
            return 0
        return 0 if row[0] is None else row[0] + 1

    def add_message(self, session_id: str, seq: int, message: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO messages VALUES (?, ?, ?)",
            (session_id, seq, _stored(message)),
        )
        self._write("UPDATE sessions SET updated=? WHERE id=?", (time.time(), session_id))

    def replace_messages(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Store ``messages`` as the session's whole history (a repaired one), so positions
        stored from now on follow it."""
        for seq, message in enumerate(messages):
            self.add_message(session_id, seq, message)
        self._write(
            "DELETE FROM messages WHERE session_id=? AND seq>=?", (session_id, len(messages))
        )

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

    def save_checkpoint(self, session_id: str, checkpoint: Checkpoint) -> None:
        self._write(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
            (session_id, checkpoint.turn, checkpoint.model_dump_json()),
        )

    def checkpoints(self, session_id: str) -> list[Checkpoint]:
        """The session's checkpoints, oldest first (one a newer Shipmate wrote, that this
        one cannot read, is left out)."""
        rows = self.db.execute(
            "SELECT data FROM checkpoints WHERE session_id=? ORDER BY turn", (session_id,)
        ).fetchall()
        found = []
        for (data,) in rows:
            with contextlib.suppress(ValueError):
                found.append(Checkpoint.model_validate_json(data))
        return found

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

    def last_compacted(self, session_id: str) -> Compacted | None:
        """The session's newest compaction, so a resumed session sends what it sent."""
        row = self.db.execute(
            "SELECT data FROM events WHERE session_id=? AND type='compacted' "
            "ORDER BY seq DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return None if row is None else Compacted.model_validate_json(row[0])

    def get(self, session_id: str) -> SessionInfo | None:
        row = self.db.execute(f"SELECT {_INFO} FROM sessions WHERE id=?", (session_id,)).fetchone()
        return None if row is None else _info(row)

    def find(self, ref: str) -> SessionInfo:
        """The session whose id is ``ref`` or starts with it; SessionError if none or many."""
        ref = ref.strip().lower()
        rows = []
        if ref:
            rows = self.db.execute(
                f"SELECT {_INFO} FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY updated DESC",
                (len(ref), ref),
            ).fetchall()
        exact = [row for row in rows if row[0] == ref]
        if exact or len(rows) == 1:
            return _info((exact or rows)[0])
        if not rows:
            raise SessionError(
                f"There is no session '{ref}'; 'shipmate sessions --all' lists the sessions."
            )
        shown = ", ".join(short_id(row[0]) for row in rows[:5])
        more = ", …" if len(rows) > 5 else ""
        raise SessionError(
            f"'{ref}' matches {len(rows)} sessions ({shown}{more}); give more of the id."
        )

    def to_resume(self, workspace: Path, ref: str | None) -> SessionInfo:
        """The session ``--resume REF`` (or ``--continue``, with no ``ref``) goes on with in
        ``workspace``; SessionError says why it cannot."""
        if ref is None:
            newest = self.summaries(workspace, limit=1)
            if not newest:
                raise SessionError(
                    f"There is no session to continue in {workspace}; start one with "
                    "'shipmate run TASK'."
                )
            session: SessionInfo = newest[0]
        else:
            session = self.find(ref)
        if session.workspace != str(workspace):
            raise SessionError(
                f"Session {short_id(session.id)} belongs to {session.workspace}, not this "
                f"workspace; resume it there (shipmate run -C {shlex.quote(session.workspace)} "
                f"--resume {short_id(session.id)} TASK)."
            )
        self._claim(session)
        return session

    def release(self, session: SessionInfo) -> None:
        """Give back a session claimed for a run that then could not start (a bad model,
        a missing key): it reads as it did before."""
        self._write(
            "UPDATE sessions SET status=?, pid=NULL WHERE id=? AND pid=?",
            (session.status, session.id, os.getpid()),
        )

    def _claim(self, session: SessionInfo) -> None:
        """Mark ``session`` as run by this process, unless another live one runs it: one
        transaction, so two runs resuming it at once cannot both go on (and write their
        messages over each other's)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return  # the store is failing already; the run goes on without history
        try:
            status, pid = self.db.execute(
                "SELECT status, pid FROM sessions WHERE id=?", (session.id,)
            ).fetchone()
            if status == "running" and pid != os.getpid() and _alive(pid):
                raise SessionError(
                    f"Session {short_id(session.id)} is still running (process {pid}); "
                    "wait for it to end, or stop it, before resuming it."
                )
            self.db.execute(
                "UPDATE sessions SET status='running', pid=?, updated=? WHERE id=?",
                (os.getpid(), time.time(), session.id),
            )
        finally:
            self.db.execute("COMMIT")

    def summaries(self, workspace: Path | None = None, limit: int = -1) -> list[SessionSummary]:
        """The sessions of ``workspace`` (all with None), the one used last first."""
        where, params = ("WHERE s.workspace = ?", (str(workspace),)) if workspace else ("", ())
        rows = self.db.execute(
            f"{_SUMMARY} {where} ORDER BY s.updated DESC, s.rowid DESC LIMIT ?",
            (*params, limit),
        )
        summaries = []
        for row in rows:
            info = _info(row[:8])
            user_messages, results, turns, cost, files = row[8:]
            summaries.append(
                SessionSummary(
                    **info.model_dump(),
                    requests=max(user_messages, results),  # older sessions stored no messages
                    turns=int(turns),
                    cost_usd=cost,
                    files_changed=sorted(json.loads(files or "[]")),
                )
            )
        return summaries

    def close(self) -> None:
        self.db.close()


def _info(row: tuple[Any, ...]) -> SessionInfo:
    info = SessionInfo(**dict(zip(SessionInfo.model_fields, row, strict=True)))
    if info.status == "running" and not _alive(info.pid):
        info.status = "interrupted"
    return info


def running_elsewhere(session: SessionInfo) -> bool:
    """Whether another live process is running ``session`` now."""
    return session.status == "running" and session.pid != os.getpid() and _alive(session.pid)


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` still runs (on this machine)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: it exists
        return True
    return True


def short_id(session_id: str) -> str:
    """The part of an id people see and type; any unique prefix resumes it."""
    return session_id[:12]


def one_line(text: str) -> str:
    """``text`` on one line, its runs of white space as one space."""
    return " ".join(text.split())


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
