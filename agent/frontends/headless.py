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

from pydantic import BaseModel

from agent.config import ConfigError, Settings, choose_model, data_dir
from agent.events import (
    AssistantMessage,
    Committed,
    Compacted,
    Error,
    Event,
    IndexReady,
    PlanUpdated,
    Result,
    Retrying,
    SessionStarted,
    TestsFinished,
    ToolFinished,
    ToolStarted,
)
from agent.index.progress import ProgressLine
from agent.policy.approval import HeadlessApprover
from agent.policy.hints import hints
from agent.policy.rules import Rule
from agent.session import short_id
from agent.terminal import json_safe
from tools.base import plural
from tools.plan import MARKS

OutputFormat = Literal["text", "json", "stream-json"]
FAILURES_SHOWN = 5  # failing tests named under an auto-test run
EXIT_CODES = {"success": 0, "failed": 1, "config_error": 2, "budget_exceeded": 3, "cancelled": 130}
# How a refused tool call is shown, by why it was refused.
REFUSED = {
    "read_only": "refused (read-only run)",
    "no_sandbox": "refused (no sandbox here)",
    "outside_sandbox": "refused (asked to run outside the sandbox)",
    "unverifiable": "refused (what it runs cannot be checked)",
    "needs_approval": "refused (needs approval)",
}


class RunOptions(BaseModel):
    """How this run was asked to go, from ``run``'s flags (settings are separate)."""

    output: OutputFormat = "text"
    quiet: bool = False
    verbose: bool = False
    appended_prompt: str = ""
    allow: list[str] = []
    deny: list[str] = []
    warnings: list[str] = []  # what the --allow rules let through that may surprise
    continue_session: bool = False  # --continue: the workspace's newest session
    resume: str | None = None  # --resume ID: that session (a unique prefix of its id)

    def rules(self) -> list[Rule]:
        """The --allow and --deny command rules, for this run only."""
        allowed = [Rule(action="allow", tool="command", pattern=p) for p in self.allow]
        return allowed + [Rule(action="deny", tool="command", pattern=p) for p in self.deny]


class TextOutput:
    """Progress on stderr as it happens (none when ``quiet``, but errors); the final answer
    on stdout. ``verbose`` adds the raw API error under each retry and error."""

    def __init__(
        self, out: TextIO, err: TextIO, quiet: bool = False, verbose: bool = False
    ) -> None:
        self.out = out
        self.err = err
        self.quiet = quiet
        self.verbose = verbose

    def say(self, line: str, always: bool = False) -> None:
        if always or not self.quiet:
            print(line, file=self.err, flush=True)

    def header(self, model: str, approval: str, workspace: Path) -> None:
        self.say(f"shipmate · {model} · {approval} · {workspace}")

    def show(self, event: Event) -> None:
        match event:
            case SessionStarted():  # the header line was shown before the model was ready
                if event.resumed:
                    self.say(f"resuming session {short_id(event.session_id)}")
                for notice in event.notices:
                    self.say(f"note: {notice}")
            case IndexReady(problem=None):
                how = "cold" if event.cold else "warm"
                self.say(f"indexed {plural(event.files, 'file')} ({how}, {event.seconds:.2f} s)")
            case IndexReady():
                self.say(f"note: {event.problem}")
            case AssistantMessage(tool_calls=calls) if calls and event.text.strip():
                self.say(event.text.strip())
            case ToolStarted():
                self.say(f"→ {event.summary}")
            case ToolFinished(status="ok", name="update_plan"):
                pass  # the plan itself follows
            case ToolFinished(status="denied"):
                self.say(f"  ⊘ {refused(event)}")
            case ToolFinished():
                mark = {"ok": "✓", "error": "✗", "cancelled": "⊘"}[event.status]
                self.say(f"  {mark} {event.summary}")
                for file in event.instructions:
                    self.say(f"  + instructions from {file}")
            case TestsFinished(auto_test=True):
                self.tests(event)
            case PlanUpdated():
                for item in event.items:
                    self.say(f"  {MARKS[item.status]} {item.step}")
            case Retrying():
                when = f"in {event.delay_seconds:g} s" if event.delay_seconds else "now"
                self.say(f"! {event.reason} (retrying {when}, attempt {event.attempt + 1})")
                self.raw(event.detail)
            case Committed(wip=True):
                files = ", ".join(event.files)
                self.say(f"git: your changes to {files} committed first ({event.commit[:12]})")
            case Committed():
                self.say(f"git: committed {event.commit[:12]} {event.subject}")
            case Compacted():
                how = (
                    f"{plural(event.messages_summarised, 'message')} summarised"
                    if event.messages_summarised
                    else "old tool outputs dropped"
                )
                self.say(
                    f"compacted the conversation: {event.tokens_before:,} → "
                    f"{event.tokens_after:,} tokens ({how})"
                )
            case Error():
                self.say(f"error: {event.message}", always=True)
                self.raw(event.detail, always=True)
            case Result():
                self.finish(event)

    def tests(self, event: TestsFinished) -> None:
        """An auto-test run, shown like a tool call, with the failing tests named."""
        when = "before the first edit" if event.baseline else "after the changes"
        self.say(f"→ auto-test ({when}): {event.command}")
        failed = event.timed_out or event.exit_code != 0
        self.say(f"  {'✗' if failed else '✓'} {event.summary}")
        for failure in event.failures[:FAILURES_SHOWN]:
            self.say(f"    {failure.test_id}" + " (pre-existing)" * failure.pre_existing)
        if event.failures_total > FAILURES_SHOWN:
            self.say(f"    … and {event.failures_total - FAILURES_SHOWN} more")

    def raw(self, detail: str, always: bool = False) -> None:
        if self.verbose and detail:
            self.say(f"  raw: {detail}", always)

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
        if result.auto_test is not None and result.auto_test.failing:
            tests = result.auto_test
            new = [failure.test_id for failure in tests.failing if not failure.pre_existing]
            old = [failure.test_id for failure in tests.failing if failure.pre_existing]
            rounds = plural(tests.rounds, "fix round")
            self.say(f"auto-test after {rounds}: {tests.summary}", always=bool(new))
            if new:
                self.say(f"  still failing: {', '.join(new)}", always=True)
            if old:
                self.say(f"  failing before the first edit too: {', '.join(old)}")
        for hint in result.hints:
            self.say(hint)


def refused(event: ToolFinished) -> str:
    """A refusal as the person reads it: a deny is a deny, a secret file is named."""
    if event.refusal == "deny_rule":
        return f"denied by the rule '{event.rule}'"
    if event.refusal == "secret_file":
        return f"refused ({event.path} usually holds secrets)"
    return REFUSED[event.refusal or "needs_approval"]


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
    options: RunOptions,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run ``task`` to the end and return the process exit code."""
    from agent.conversation import Conversation
    from agent.llm import LLM
    from agent.policy.rules import RuleBook
    from agent.policy.sandboxing import sandbox_for
    from agent.session import SessionError, SessionStore
    from agent.vcs.branches import BranchError, start_branch

    output = options.output
    text = TextOutput(out, err, options.quiet, options.verbose) if output == "text" else None
    printer = text or JsonOutput(out, output == "stream-json")
    run_rules = [rule.describe() for rule in options.rules()]

    def show(event: Event) -> None:
        if isinstance(event, Result) and event.permission_denials:
            found = hints(event.permission_denials, settings.approval, run_rules)
            event = event.model_copy(update={"hints": found})
        printer.show(event)

    try:
        if text:  # at once: litellm is still loading in the background
            text.header(choose_model(settings), settings.approval, workspace)
        rules = RuleBook(workspace, options.rules())
    except ConfigError as error:
        return config_failure(str(error), output, out, err)
    if settings.branch:
        try:
            started = start_branch(workspace, settings.branch)
        except BranchError as error:
            return config_failure(str(error), output, out, err)
        if text:
            text.say(f"git: {started}")
    sandbox = sandbox_for(settings, workspace)
    store = SessionStore(data_dir() / "sessions.db")
    session = None
    try:
        if options.continue_session or options.resume:
            session = store.to_resume(workspace, options.resume)
        llm = LLM.from_settings(settings)  # waits for litellm's import, if still running
    except (ConfigError, SessionError) as error:
        if session is not None:
            store.release(session)
        store.close()
        return config_failure(str(error), output, out, err)
    parts = dict(
        llm=llm,
        settings=settings,
        workspace=workspace,
        approver=HeadlessApprover(settings.approval),
        store=store,
        sandbox=sandbox,
        rules=rules,
        appended_prompt=options.appended_prompt,
    )
    conversation = Conversation.resume(session, **parts) if session else Conversation(**parts)
    if output == "text":
        conversation.index_progress = ProgressLine(err)
    try:
        async for event in conversation.send(task):
            show(event)
    except asyncio.CancelledError:
        if output == "text":
            print("Cancelled.", file=err, flush=True)
        if conversation.result is not None:  # the cancelled turn's, once its history is whole
            show(conversation.result)
        return EXIT_CODES["cancelled"]
    finally:
        await conversation.close()  # its MCP servers: stopped, their processes gone
        store.close()
    assert conversation.result is not None
    return EXIT_CODES[conversation.result.status]


def config_failure(message: str, output: OutputFormat, out: TextIO, err: TextIO) -> int:
    """Report a problem the user must fix; JSON modes still get a result object."""
    print(f"shipmate: {message}", file=err, flush=True)
    failure_result(message, output, out)
    return EXIT_CODES["config_error"]


def failure_result(message: str, output: OutputFormat, out: TextIO) -> None:
    """A run that could not start still ends a JSON output with its result object."""
    if output != "text":
        result = Result(status="config_error", error=message, session_id=None)
        out.write(json_safe(result.model_dump_json()) + "\n")
        out.flush()


def main(task: str, settings: Settings, workspace: Path, options: RunOptions) -> int:
    """Entry point for the CLI: keeps stdout clean of anything but our output."""
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        return asyncio.run(run_task(task, settings, workspace, options, out, sys.stderr))
