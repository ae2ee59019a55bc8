"""``shipmate sessions``: the stored sessions, newest first, and ``sessions show ID``, one
session's transcript (or its stored events as JSON)."""

from __future__ import annotations

import datetime
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from agent.config import data_dir
from agent.frontends.transcript import local_time, transcript
from agent.session import SessionError, SessionInfo, SessionStore, SessionSummary, short_id
from agent.terminal import json_safe
from tools.base import plural

EXIT_FAILED = 1
EXIT_USAGE = 2


def sessions_command(
    workspace: Path, *, show: str | None, as_json: bool, every: bool, out: TextIO | None = None
) -> int:
    """List the sessions (this workspace's, or all with ``every``), or show session ``show``.

    Printed to ``out`` (stdout, which shows control characters as text); JSON has them
    escaped the JSON way, as ``run``'s JSON does."""
    out = out or sys.stdout
    path = data_dir() / "sessions.db"
    if not path.exists():
        return show_failure(show) if show else _list([], workspace, as_json, every, out)
    store = SessionStore(path)
    try:
        if store.problem:
            print(f"shipmate: the sessions in {path} cannot be read.", file=sys.stderr)
            return EXIT_FAILED
        if show:
            try:
                session = store.find(show)
            except SessionError as error:
                print(f"shipmate: {error}", file=sys.stderr)
                return EXIT_USAGE
            return _show(session, store.events(session.id), as_json, out)
        return _list(store.summaries(None if every else workspace), workspace, as_json, every, out)
    finally:
        store.close()


def show_failure(ref: str) -> int:
    print(f"shipmate: There is no session '{ref}'; no session was stored yet.", file=sys.stderr)
    return EXIT_USAGE


def _show(session: SessionInfo, events: list[dict[str, Any]], as_json: bool, out: TextIO) -> int:
    if as_json:
        record = {"session": _public(session), "events": events}
        out.write(json_safe(json.dumps(record, ensure_ascii=False)) + "\n")
    else:
        out.write("\n".join(transcript(session, events)) + "\n")
    return 0


def _list(
    sessions: list[SessionSummary], workspace: Path, as_json: bool, every: bool, out: TextIO
) -> int:
    if as_json:
        listed = {"sessions": [_public(session) for session in sessions]}
        out.write(json_safe(json.dumps(listed, ensure_ascii=False)) + "\n")
        return 0
    if not sessions:
        where = "yet" if every else f"in {workspace} ('shipmate sessions --all' lists them all)"
        out.write(f"No sessions {where}.\n")
        return 0
    now = time.time()
    rows = [
        [
            short_id(s.id),
            ago(s.updated, now),
            s.status,
            str(s.turns),
            f"${s.cost_usd:.4f}",
            str(len(s.files_changed)),
            *([_home(s.workspace)] if every else []),
            s.title,
        ]
        for s in sessions
    ]
    header = ["ID", "WHEN", "STATUS", "TURNS", "COST", "FILES", *(["WORKSPACE"] if every else [])]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    room = max(20, shutil.get_terminal_size((120, 24)).columns - sum(widths) - 2 * len(widths))
    for row in [[*header, "TITLE"], *rows]:
        cells = [
            cell.rjust(width) if name in ("TURNS", "COST", "FILES") else cell.ljust(width)
            for cell, width, name in zip(row, widths, header, strict=False)
        ]
        title = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        out.write("  ".join([*cells, title]).rstrip() + "\n")
    return 0


def ago(epoch: float, now: float) -> str:
    """How long ago, in words a person reads at a glance; a date past a week."""
    seconds = max(0.0, now - epoch)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 7 * 86400:
        return plural(int(seconds // 86400), "day") + " ago"
    return local_time(epoch)[:10]


def _public(session: SessionInfo) -> dict[str, Any]:
    """A session as JSON: times as ISO-8601 UTC, like events' ``ts``; no process id."""
    record = session.model_dump(exclude={"pid"})
    for key in ("created", "updated"):
        when = datetime.datetime.fromtimestamp(record[key], datetime.UTC)
        record[key] = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    return record


def _home(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if path == home or path.startswith(home + "/") else path
