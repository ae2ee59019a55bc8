"""What a block pruned from the conversation keeps: a small record that makes it again.

A record is a ``functools.partial`` of the block's constructor (or of a function that
rebuilds its state): strings and small lists, never a widget. A tool's output keeps only
the tail its block shows. A new kind of block needs a case in ``record``, or it is dropped
for good when it leaves the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.widget import Widget

from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.diff_view import DiffView
from agent.tui.widgets.note import Note
from agent.tui.widgets.output_block import OutputBlock
from agent.tui.widgets.plan_view import PlanView
from agent.tui.widgets.tool_block import OUTPUT_LINES, ToolBlock
from agent.tui.widgets.user_message import UserMessage

Record = Callable[[], Widget]


def live(widget: Widget) -> bool:
    """Still changing (a reply streaming, a tool running or asking): never pruned."""
    if isinstance(widget, AssistantText):
        return not widget.finished
    if isinstance(widget, ToolBlock):
        return widget.status in ("running", "pending")
    return isinstance(widget, UserMessage) and widget.queued


def record(widget: Widget) -> Record | None:
    """How to make ``widget`` again as it looks now; None for a kind this does not know."""
    match widget:
        case AssistantText():
            return partial(AssistantText, widget.source)
        case UserMessage():
            return partial(UserMessage, widget.text, files=list(widget.files))
        case Note():
            return partial(Note, widget.text, widget.kind, widget.detail)
        case ToolBlock():
            return partial(
                tool_block,
                widget.call_id,
                widget.name_,
                widget.kind,
                widget.summary,
                widget.status,
                widget.expanded,
                dict(
                    elapsed=widget.elapsed,
                    timed=widget.timed,
                    output="\n".join(widget.output.splitlines()[-OUTPUT_LINES - 1 :]),
                    diff=widget.diff,
                    tests=widget.tests,
                    run=widget.run,  # a test run's structured result (failures capped)
                    outcome=widget.outcome,
                ),
            )
        case PlanView():
            return partial(PlanView, list(widget.items))
        case DiffView():
            return partial(DiffView, widget.diff)
        case OutputBlock():
            return partial(OutputBlock, widget.raw_title, widget.text, widget.collapsed)
    return None


def tool_block(
    call_id: str,
    name: str,
    kind: str | None,
    summary: str,
    status: str,
    expanded: bool,
    state: dict[str, object],
) -> ToolBlock:
    """A finished tool call's block again: its status, outcome, output, diff and tests."""
    block = ToolBlock(call_id, name, kind, summary)  # type: ignore[arg-type]
    for key, value in state.items():
        setattr(block, key, value)
    block.set_reactive(ToolBlock.status, status)
    block.set_reactive(ToolBlock.expanded, expanded)
    block.set_classes(status)
    return block
