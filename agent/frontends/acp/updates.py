"""The core's events as ACP session updates: text chunks, tool calls, the plan, usage."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from acp import (
    plan_entry,
    start_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_plan,
    update_tool_call,
    update_user_message_text,
)
from acp.schema import Cost, ToolCallLocation, ToolKind, UsageUpdate

from agent.events import (
    AssistantMessage,
    Committed,
    ContextUpdated,
    Error,
    Event,
    IndexReady,
    PlanUpdated,
    Retrying,
    SessionStarted,
    TestsFinished,
    TextDelta,
    ToolFinished,
    ToolKindName,
    ToolStarted,
    UsageUpdated,
    UserMessage,
)

# ACP's tool kinds by tool name (the editor picks an icon and may follow the location),
# then by the core's kind for a tool not listed.
KINDS: dict[str, ToolKind] = {
    "read_file": "read",
    "file_outline": "read",
    "list_files": "search",
    "grep": "search",
    "find_symbol": "search",
    "repo_map": "search",
    "edit_file": "edit",
    "write_file": "edit",
    "run_command": "execute",
    "run_tests": "execute",
    "git": "execute",
    "git_commit": "execute",
    "update_plan": "think",
}
BY_CORE_KIND: dict[ToolKindName, ToolKind] = {
    "read": "read",
    "edit": "edit",
    "execute": "execute",
    "git": "execute",
    "plan": "think",
}
OUTPUT_LIMIT = 8_000  # characters of a tool's output shown in the editor
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")

Update = Any  # one of the SDK's session update models


def tool_kind(name: str, kind: ToolKindName | None) -> ToolKind:
    return KINDS.get(name) or (BY_CORE_KIND[kind] if kind else "other")


class Updates:
    """Turns one session's events into updates; remembers each running tool call's path,
    so its result can point the editor at the right place."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.paths: dict[str, Path] = {}
        self.cost = 0.0

    def of(self, event: Event, replay: bool = False) -> list[Update]:
        """The updates ``event`` makes; ``replay``: a stored session shown again, where the
        text comes whole (``AssistantMessage``) instead of streamed."""
        match event:
            case UserMessage() if replay:
                return [update_user_message_text(event.text)]
            case TextDelta() if event.text:
                return [update_agent_message_text(event.text)]
            case AssistantMessage() if replay and event.text:
                return [update_agent_message_text(event.text)]
            case ToolStarted():
                return [self.started(event)]
            case ToolFinished():
                return [self.finished(event)]
            case PlanUpdated():
                return [update_plan(plan_entry(i.step, status=i.status) for i in event.items)]
            case SessionStarted() if not replay and event.notices:
                return [update_agent_thought_text("\n".join(event.notices) + "\n")]
            case IndexReady(problem=str() as problem) if not replay:
                return [update_agent_thought_text(f"{problem}\n")]
            case Retrying() if not replay:
                return [update_agent_thought_text(f"{event.reason}; retrying.\n")]
            case Error():
                return [update_agent_message_text(f"\n\n**Error:** {event.message}\n")]
            case Committed():
                line = f"git: committed {event.commit[:12]} {event.subject}"
                return [update_agent_message_text(f"\n\n{line}\n")]
            case TestsFinished(auto_test=True):
                return [update_agent_thought_text(f"auto-test: {event.summary}\n")]
            case UsageUpdated():
                self.cost += event.call.cost_usd
            case ContextUpdated() if not replay:
                cost = Cost(amount=round(self.cost, 6), currency="USD")
                return [
                    UsageUpdate(
                        session_update="usage_update",
                        used=event.tokens,
                        size=event.window,
                        cost=cost,
                    )
                ]
        return []

    def started(self, event: ToolStarted) -> Update:
        raw = event.arguments.get("path")
        locations = None
        if isinstance(raw, str) and raw:
            path = self.workspace / raw
            self.paths[event.call_id] = path
            line = event.arguments.get("offset") if event.name == "read_file" else None
            locations = [ToolCallLocation(path=str(path), line=line)]
        return start_tool_call(
            event.call_id,
            event.summary,
            kind=tool_kind(event.name, event.kind),
            status="in_progress",
            locations=locations,
        )

    def finished(self, event: ToolFinished) -> Update:
        path = self.paths.pop(event.call_id, None)
        content: list[Any] = []
        locations = None
        if event.diff and path is not None:
            hunks = diff_hunks(event.diff)
            content = [tool_diff_content(str(path), new, old) for _, old, new in hunks]
            if hunks:
                locations = [ToolCallLocation(path=str(path), line=hunks[0][0])]
        output = event.output if event.status != "ok" or not content else ""
        if output:
            if len(output) > OUTPUT_LIMIT:
                output = output[:OUTPUT_LIMIT] + "\n… (cut)"
            content.append(tool_content(text_block(output)))
        return update_tool_call(
            event.call_id,
            status="completed" if event.status == "ok" else "failed",
            content=content or None,
            locations=locations,
        )


def diff_hunks(diff: str) -> list[tuple[int, str, str]]:
    """The hunks of a unified diff as (first new line, old text, new text): what the editor
    shows as a diff, bounded by the diff's own size. A hunk the diff's cut ended is left out."""
    hunks: list[tuple[int, list[str], list[str]]] = []
    for line in diff.splitlines(keepends=True):
        if found := _HUNK.match(line):
            hunks.append((int(found.group(1)), [], []))
        elif hunks and line[:1] in (" ", "-", "+"):  # the file names come before the hunks
            _, old, new = hunks[-1]
            if line[0] != "+":
                old.append(line[1:])
            if line[0] != "-":
                new.append(line[1:])
    if diff.rstrip().endswith("(diff cut)") and hunks:
        hunks.pop()
    return [(start, "".join(old), "".join(new)) for start, old, new in hunks]
