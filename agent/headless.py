"""``shipmate run``: one task, no TUI, for scripts and CI.

stdout carries only the answer (text) or JSON (json, stream-json); progress and library
noise go to stderr. Anything that would wait for approval is refused and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Literal, TextIO

from agent.config import ConfigError, Settings, data_dir
from agent.events import (
    AssistantMessage,
    Error,
    Event,
    IndexReady,
    PlanUpdated,
    Result,
    Retrying,
    SessionStarted,
    ToolFinished,
    ToolStarted,
)
from agent.index.progress import ProgressLine
from agent.policy.approval import HeadlessApprover
from agent.terminal import json_safe
from tools.base import plural
from tools.plan import MARKS

OutputFormat = Literal["text", "json", "stream-json"]
EXIT_CODES = {"success": 0, "failed": 1, "config_error": 2, "budget_exceeded": 3, "cancelled": 130}


class TextOutput:
    """Progress on stderr as it happens; the final answer on stdout."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def say(self, line: str) -> None:
        print(line, file=self.err, flush=True)

    def show(self, event: Event) -> None:
        match event:
            case SessionStarted():
                self.say(f"shipmate · {event.model} · {event.approval} · {event.workspace}")
                for notice in event.notices:
                    self.say(f"note: {notice}")
            case IndexReady(problem=None):
                how = "cold" if event.cold else "warm"
                self.say(f"indexed {event.files:,} files ({how}, {event.seconds:.2f} s)")
            case IndexReady():
                self.say(f"note: {event.problem}")
            case AssistantMessage(tool_calls=calls) if calls and event.text.strip():
                self.say(event.text.strip())
            case ToolStarted():
                self.say(f"→ {event.summary}")
            case ToolFinished(status="ok", name="update_plan"):
                pass  # the plan itself follows
            case ToolFinished():
                mark = {"ok": "✓", "error": "✗", "denied": "⊘", "cancelled": "⊘"}[event.status]
                detail = event.summary if event.status != "denied" else "refused (needs approval)"
                self.say(f"  {mark} {detail}")
            case PlanUpdated():
                for item in event.items:
                    self.say(f"  {MARKS[item.status]} {item.step}")
            case Retrying():
                self.say(
                    f"! {event.reason} — retrying in {event.delay_seconds:g} s "
                    f"(attempt {event.attempt + 1})"
                )
            case Error():
                self.say(f"error: {event.message}")
            case Result():
                self.finish(event)

    def finish(self, result: Result) -> None:
        if result.result:
            print(result.result.rstrip(), file=self.out, flush=True)
        usage = result.usage
        parts = [
            f"{result.status.replace('_', ' ')}",
            plural(result.turns, "turn"),
            f"{usage.input_tokens:,} tokens in ({usage.cached_tokens:,} cached) / "
            f"{usage.output_tokens:,} out",
            f"${result.cost_usd:.4f}",
            plural(len(result.files_changed), "file") + " changed",
        ]
        self.say("— " + " · ".join(parts))
        if result.permission_denials:
            self.say(
                f"{len(result.permission_denials)} actions were refused because they need "
                "approval; rerun with --approval auto-edit (edits) or full-auto (edits and "
                "commands) to allow them."
            )


class JsonOutput:
    """One JSON object at the end (``json``), or every event as a line (``stream-json``).

    Lines carry no raw C1 or bidi control (``json_safe``), so a terminal showing them acts
    on nothing and the stdout filter leaves them byte for byte as programs expect.
    """

    def __init__(self, out: TextIO, every_event: bool) -> None:
        self.out = out
        self.every_event = every_event

    def show(self, event: Event) -> None:
        if self.every_event or isinstance(event, Result):
            self.out.write(json_safe(event.model_dump_json()) + "\n")
            self.out.flush()


async def run_task(
    task: str,
    settings: Settings,
    workspace: Path,
    output: OutputFormat,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run ``task`` to the end and return the process exit code."""
    from agent.llm import LLM
    from agent.loop import Agent
    from agent.policy.rules import RuleBook
    from agent.policy.sandboxing import sandbox_for
    from agent.session import SessionStore

    show = (
        TextOutput(out, err).show
        if output == "text"
        else JsonOutput(out, output == "stream-json").show
    )
    try:
        llm = LLM.from_settings(settings)
    except ConfigError as error:
        return config_failure(str(error), output, out, err)
    try:
        rules = RuleBook(workspace)
    except ConfigError as error:
        return config_failure(str(error), output, out, err)
    agent = Agent(
        llm=llm,
        settings=settings,
        workspace=workspace,
        approver=HeadlessApprover(settings.approval),
        store=SessionStore(data_dir() / "sessions.db"),
        sandbox=sandbox_for(settings, workspace),
        rules=rules,
    )
    if output == "text":
        agent.index_progress = ProgressLine(err)
    try:
        async for event in agent.run(task):
            show(event)
    except asyncio.CancelledError:
        result = agent.cancelled()
        if output == "text":
            print("Cancelled.", file=err, flush=True)
        show(result)
        return EXIT_CODES["cancelled"]
    finally:
        agent.store.close()
    assert agent.result is not None
    return EXIT_CODES[agent.result.status]


def config_failure(message: str, output: OutputFormat, out: TextIO, err: TextIO) -> int:
    """Report a problem the user must fix; JSON modes still get a result object."""
    print(f"shipmate: {message}", file=err, flush=True)
    if output != "text":
        result = Result(status="config_error", error=message, session_id=None)
        out.write(json_safe(result.model_dump_json()) + "\n")
        out.flush()
    return EXIT_CODES["config_error"]


def main(task: str, settings: Settings, workspace: Path, output: OutputFormat) -> int:
    """Entry point for the CLI: keeps stdout clean of anything but our output."""
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        return asyncio.run(run_task(task, settings, workspace, output, out, sys.stderr))
