"""``shipmate undo`` and ``shipmate diff``: the agent's changes in a session, undone turn by
turn or shown as one diff. The TUI's /undo and /diff call the same functions."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from agent.config import data_dir
from agent.session import SessionError, SessionInfo, SessionStore, running_elsewhere, short_id
from agent.terminal import write_trusted
from agent.vcs.blobs import Blobs
from agent.vcs.checkpoints import blob_store
from agent.vcs.undo import UndoError, Undone, session_diff, undo

EXIT_FAILED = 1
EXIT_USAGE = 2


def session_blobs(workspace: Path, session_id: str) -> Blobs:
    return blob_store(workspace, session_id, data_dir() / "checkpoints" / session_id)


def chosen_session(store: SessionStore, workspace: Path, ref: str | None) -> SessionInfo:
    """Session ``ref`` of this workspace, or its newest; SessionError says why not."""
    if ref is None:
        newest = store.summaries(workspace, limit=1)
        if not newest:
            raise SessionError(f"There is no Shipmate session in {workspace} yet.")
        return newest[0]
    session = store.find(ref)
    if session.workspace != str(workspace):
        raise SessionError(
            f"Session {short_id(session.id)} belongs to {session.workspace}, not this "
            "workspace; run the command there."
        )
    return session


def describe(done: Undone, session_id: str) -> str:
    lines = [f"Undid turn {done.turn} of session {short_id(session_id)} ({done.request!r})."]
    if done.restored:
        lines.append("Restored: " + ", ".join(done.restored))
    if done.removed:
        lines.append("Removed (created by Shipmate): " + ", ".join(done.removed))
    if done.kept:
        lines.append("Kept (created by Shipmate, changed since): " + ", ".join(done.kept))
    if done.commits:
        lines.append("Commits: " + done.commits)
    if done.remaining:
        lines.append(
            f"{done.remaining} earlier turn{'s' * (done.remaining > 1)} can still be undone "
            "(run shipmate undo again)."
        )
    return "\n".join(lines)


def _chosen(store: SessionStore, workspace: Path, ref: str | None) -> SessionInfo | None:
    """``chosen_session``, or None once the reason was printed."""
    try:
        return chosen_session(store, workspace, ref)
    except SessionError as error:
        print(f"shipmate: {error}", file=sys.stderr)
        return None


def undo_command(workspace: Path, ref: str | None, force: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    store = SessionStore(data_dir() / "sessions.db")
    try:
        session = _chosen(store, workspace, ref)
        if session is None:
            return EXIT_USAGE
        if running_elsewhere(session):
            print(
                f"shipmate: session {short_id(session.id)} is running (process {session.pid}); "
                "undo there with /undo, or once it has stopped.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        blobs = session_blobs(workspace, session.id)
        try:
            done = asyncio.run(undo(workspace, session.id, store, blobs, force=force))
        except UndoError as error:
            print(f"shipmate: {error}", file=sys.stderr)
            return EXIT_FAILED
        print(describe(done, session.id), file=out)
        return 0
    finally:
        store.close()


def diff_command(workspace: Path, ref: str | None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    store = SessionStore(data_dir() / "sessions.db")
    try:
        session = _chosen(store, workspace, ref)
        if session is None:
            return EXIT_USAGE
        colour = out.isatty()
        text = session_diff(
            workspace, store, session.id, session_blobs(workspace, session.id), colour
        )
        if not text:
            print(f"Session {short_id(session.id)} changed no file.", file=sys.stderr)
            return 0
        if colour:
            write_trusted(out, text)
        else:
            out.write(text)
        return 0
    finally:
        store.close()
