"""One tool call: a compact line (icon by kind, summary, status, duration) that expands on
click or Enter to show its output (an edit's coloured diff).

While its call waits for approval the block shows what would run (the command, or the
change) and answers with y (allow once), a (always: save the suggested rule), n (deny) or
m (deny with a message typed in the input). A test run expands to its structured result:
the counts, then each failing test with the first line of its message.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from agent.tui.render import ICONS, clean, diff_text, plain, seconds

if TYPE_CHECKING:
    from agent.events import TestsFinished, ToolFinished, ToolKindName
    from agent.policy.approval import ApprovalRequest, Decision

OUTPUT_LINES = 200  # the tail of a long output shown when expanded
FAILURES_SHOWN = 20  # failing tests listed in a test run's summary
STATUS = {
    "running": ("…", "italic"),
    "pending": ("? waiting for you", "bold yellow"),
    "ok": ("✓", "green"),
    "error": ("✗ failed", "red"),
    "denied": ("⊘ denied", "yellow"),
    "cancelled": ("⊘ cancelled", "dim"),
}
KEYS = "y allow once · a always{rule} · n deny · m deny with a message"


class ToolBlock(Vertical, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "toggle", "Expand", show=False),
        Binding("y", "allow", "Allow once", show=False),
        Binding("a", "always", "Always", show=False),
        Binding("n", "deny", "Deny", show=False),
        Binding("m", "deny_with_message", "Deny with a message", show=False),
    ]

    status = reactive("running")
    expanded = reactive(False)

    class Answered(Message):
        """The person answered this block's approval request."""

        def __init__(self, block: ToolBlock) -> None:
            super().__init__()
            self.block = block

    class WantsMessage(Message):
        """``m``: the denial's message is typed in the input."""

        def __init__(self, block: ToolBlock) -> None:
            super().__init__()
            self.block = block

    def __init__(self, call_id: str, name: str, kind: ToolKindName | None, summary: str) -> None:
        super().__init__(classes="running")
        self.call_id = call_id
        self.name_ = name
        self.kind = kind
        self.summary = summary
        self.started = time.monotonic()
        self.elapsed: float | None = None
        self.timed = True
        self.output = ""
        self.diff: str | None = None
        self.tests = ""
        self.run: TestsFinished | None = None
        self.outcome = ""  # the result's own one-line summary
        self.request: ApprovalRequest | None = None
        self.future: asyncio.Future[Decision] | None = None
        self.header = Static(classes="header")
        self.body = Static(classes="body")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.header
        yield self.body

    def on_mount(self) -> None:
        self._draw()

    def watch_status(self, old: str, new: str) -> None:
        self.remove_class(old)
        self.add_class(new)
        self._draw()

    def watch_expanded(self) -> None:
        self._draw()

    def ask(self, request: ApprovalRequest, future: asyncio.Future[Decision]) -> None:
        self.request, self.future = request, future
        self.status = "pending"

    @property
    def waiting(self) -> bool:
        return self.future is not None and not self.future.done()

    def finish(self, event: ToolFinished) -> None:
        self.elapsed = time.monotonic() - self.started
        if event.diff:
            self.outcome = changed_lines(event.diff)
        elif event.summary not in (event.status, self.summary):
            self.outcome = event.summary
        self.output = event.output
        self.diff = event.diff
        self.request = None
        self.status = event.status

    def untimed(self) -> None:
        self.timed = False
        self._draw()

    def add_tests(self, run: TestsFinished) -> None:
        self.tests = run.summary
        self.run = run
        self._draw()

    def _draw(self) -> None:
        mark, style = STATUS.get(self.status, ("", ""))
        line = Text(f"{ICONS.get(self.kind, '?')} ", style="bold") + plain(self.summary)
        line.append(f"  {mark}", style=style)
        for said in dict.fromkeys(clean(text).strip() for text in (self.outcome, self.tests)):
            if said:
                line.append(f" · {said.splitlines()[0]}", style=style)
        if self.elapsed is not None and self.timed:
            line.append(f"  {seconds(self.elapsed)}", style="dim")
        self.header.update(line)
        body = self._body()
        self.body.display = body is not None
        if body is not None:
            self.body.update(body)

    def _body(self) -> Text | None:
        if self.status == "pending" and self.request is not None:
            shown = Text()
            if self.request.reason:
                shown.append(clean(self.request.reason), style="italic")
            if what := preview(self.request):
                shown.append("\n" if shown else "")
                shown.append_text(what)
            rule = f" ({clean(self.request.suggestion)})" if self.request.suggestion else ""
            shown.append("\n" + KEYS.format(rule=rule), style="bold")
            return shown
        if not self.expanded:
            return None
        if self.diff:
            return diff_text(self.diff)
        if self.run is not None:
            return test_summary(self.run)
        lines = clean(self.output).splitlines() or ["(no output)"]
        cut = len(lines) - OUTPUT_LINES
        shown = Text(f"… {cut} lines above\n", style="dim") if cut > 0 else Text()
        shown.append("\n".join(lines[-OUTPUT_LINES:]))
        return shown

    def on_click(self, event: Click) -> None:
        event.stop()
        self.focus()
        self.action_toggle()

    def action_toggle(self) -> None:
        if self.status not in ("pending", "running"):
            self.expanded = not self.expanded

    def action_allow(self) -> None:
        self._answer(allow=True)

    def action_always(self) -> None:
        self._answer(allow=True, remember=True)

    def action_deny(self) -> None:
        self._answer(allow=False)

    def action_deny_with_message(self) -> None:
        if self.waiting:
            self.post_message(self.WantsMessage(self))

    def _answer(self, **decided: Any) -> None:
        from agent.policy.approval import Decision

        if self.future is None or self.future.done():
            return
        decision = Decision(**decided)
        self.future.set_result(decision)
        self.started = time.monotonic()  # its duration is the tool's, not the wait
        self.status = "running" if decision.allow else "denied"
        self.post_message(self.Answered(self))

    def deny_with(self, message: str) -> None:
        why = f"Refused by the user, who says: {message}" if message.strip() else ""
        self._answer(allow=False, message=why)


def changed_lines(diff: str) -> str:
    """``+12 −3``: the lines a diff adds and removes."""
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return f"+{added} −{removed}"


def preview(request: ApprovalRequest) -> Text | None:
    """What would run: the command, the change as a diff, or the arguments given (none:
    the summary says it all)."""
    arguments = {key: value for key, value in request.arguments.items() if value is not None}
    if not arguments:
        return None
    if isinstance(arguments.get("command"), str):
        return Text("$ ", style="bold") + plain(arguments["command"])
    if isinstance(arguments.get("old_text"), str) and isinstance(arguments.get("new_text"), str):
        lines = [f"--- {arguments.get('path', '')}", f"+++ {arguments.get('path', '')}"]
        lines += ["-" + line for line in arguments["old_text"].splitlines()]
        lines += ["+" + line for line in arguments["new_text"].splitlines()]
        return diff_text("\n".join(lines))
    if isinstance(arguments.get("content"), str):
        lines = [f"+++ {arguments.get('path', '')}"]
        lines += ["+" + line for line in arguments["content"].splitlines()[:60]]
        return diff_text("\n".join(lines))
    if isinstance(arguments.get("patch"), str):
        return diff_text(arguments["patch"])
    lines = [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in arguments.items()
    ]
    return plain("\n".join(lines)[:2000])


def test_summary(run: TestsFinished) -> Text:
    """A test run at a glance: the command and its counts, then the failing tests (those
    that failed before the agent's first edit marked), each with its message's first line."""
    shown = Text("$ ", style="bold") + plain(run.command)
    shown.append(f"  {seconds(run.seconds)}\n", style="dim")
    failed = bool(run.failures) or run.exit_code not in (0, None) or run.timed_out
    shown.append(clean(run.summary), style="bold red" if failed else "bold green")
    for failure in run.failures[:FAILURES_SHOWN]:
        mark = "✗ " if failure.kind == "failed" else "! "
        shown.append("\n  " + mark, style="red")
        shown.append(clean(failure.test_id), style="bold")
        if failure.pre_existing:
            shown.append(" (failed before the agent's edits)", style="dim italic")
        if message := clean(failure.message).strip():
            shown.append("\n      " + message.splitlines()[0][:300], style="")
    more = max(run.failures_total, len(run.failures)) - min(len(run.failures), FAILURES_SHOWN)
    if more > 0:
        shown.append(f"\n  … {more} more failing", style="dim")
    return shown
