"""A stored session as a person reads it in a terminal: what the user said, the agent's
answers, one line per tool call with how it ended, and each turn's result.

It reads the stored events as plain dicts, so sessions written by older versions (with
fields since added or renamed) still show.
"""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import ValidationError

from agent.events import ToolFinished
from agent.frontends.headless import refused
from agent.session import SessionInfo
from tools.base import plural

MARKS = {"ok": "✓", "error": "✗", "denied": "⊘", "cancelled": "⊘"}
INTERRUPTED = "? interrupted (Shipmate stopped before it finished)"


def transcript(session: SessionInfo, events: list[dict[str, Any]]) -> list[str]:
    """The lines of ``session``'s transcript, from its stored ``events``."""
    lines = [
        f"session {session.id} · {session.status} · {session.model}",
        f"{session.workspace} · started {local_time(session.created)}",
    ]
    said = any(event.get("type") == "user_message" for event in events)
    open_calls: list[tuple[str, str]] = []  # (call id, summary) started, not yet finished

    turn_open = False  # a request was shown and its turn has no result yet

    def close_open() -> None:
        lines.extend(f"  {summary} · {INTERRUPTED}" for _, summary in open_calls)
        open_calls.clear()

    def close_turn() -> None:
        nonlocal turn_open
        if turn_open:  # the process was killed in the middle of the turn
            lines.append("— interrupted (Shipmate stopped before this turn ended)")
        turn_open = False

    for event in events:
        kind = event.get("type")
        if kind == "tool_started":
            open_calls.append((event.get("call_id", ""), event.get("summary", "")))
            continue
        if kind == "tool_finished":
            lines.append(_tool_line(event, open_calls))
            continue
        if kind in ("approval_requested", "plan_updated", "usage", "context", "retrying"):
            continue
        if kind == "test":  # run_tests' own line says it; an auto-test run gets one
            if event.get("auto_test"):
                lines.append(f"  auto-test · {event.get('summary', '')}")
            continue
        close_open()
        if kind == "session_started":
            close_turn()
            if event.get("resumed"):
                lines += ["", f"── resumed with {event.get('model')} ({_when(event)})"]
            elif not said:  # a session stored before user messages were
                lines += ["", *_quoted(session.title)]
                turn_open = True
        elif kind == "user_message":
            close_turn()
            lines += ["", *_quoted(event.get("text", ""))]
            turn_open = True
        elif kind == "assistant_message" and (event.get("text") or "").strip():
            lines.append(event["text"].strip())
        elif kind == "error":
            lines.append(f"error: {event.get('message', '')}")
        elif kind == "compacted":
            summarised = event.get("messages_summarised", 0)
            what = f"{plural(summarised, 'message')} summarised" if summarised else "old outputs"
            lines.append(f"── earlier conversation compacted ({what})")
        elif kind == "result":
            lines.append(_result_line(event))
            turn_open = False
    close_open()
    if session.status != "running":
        close_turn()
    return lines


def _tool_line(event: dict[str, Any], open_calls: list[tuple[str, str]]) -> str:
    """One line for a finished tool call: what was asked, then how it ended."""
    call_id = event.get("call_id")
    started = next((call for call in reversed(open_calls) if call[0] == call_id), None)
    if started is not None:
        open_calls.remove(started)
    status = event.get("status", "")
    summary = started[1] if started else event.get("name", "")
    outcome = event.get("summary") or status
    if status == "denied":
        try:
            outcome = refused(ToolFinished.model_validate(event))
        except ValidationError:
            outcome = "refused"
    mark = MARKS.get(status, "·")
    return f"  {summary} · {mark} {outcome}" if outcome != status else f"  {summary} · {mark}"


def _result_line(event: dict[str, Any]) -> str:
    status = str(event.get("status", "")).replace("_", " ")
    parts = [
        status,
        plural(int(event.get("turns", 0)), "turn"),
        f"${float(event.get('cost_usd', 0.0)):.4f}",
        plural(len(event.get("files_changed") or []), "file") + " changed",
    ]
    line = "— " + " · ".join(parts)
    if event.get("error") and event.get("status") != "success":
        line += f" ({event['error']})"
    return line


def _quoted(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in (text.strip() or "(empty)").splitlines()]


def _when(event: dict[str, Any]) -> str:
    """An event's ``ts`` as a person reads it (UTC, to the second)."""
    return str(event.get("ts", "")).replace("T", " ")[:19] + " UTC"


def local_time(epoch: float) -> str:
    """A stored time in the user's time zone, to the minute."""
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")
