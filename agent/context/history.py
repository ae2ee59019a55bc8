"""The stored history, and what of it is sent: private keys dropped, old repo maps stubbed,
a compacted history's old tool outputs stubbed and its older part replaced by a summary, a
history cut short by a crash or a cancel repaired so providers accept it."""

from __future__ import annotations

import json
import re
from typing import Any

import prompts
from agent.context.prompt import fill
from agent.events import Compacted
from tools.registry import REGISTRY

CANCELLED = "Cancelled by the user."
INTERRUPTED = "Interrupted: Shipmate stopped before this call finished; its effect is unknown."
# A tool output this short is sent whole even where outputs are dropped: its stub would
# save nothing.
STUB_OVER = 400
NUMBERED_LINE = re.compile(r"^ *(\d+)\t", re.MULTILINE)


def sendable(
    messages: list[dict[str, Any]], compacted: Compacted | None = None
) -> list[dict[str, Any]]:
    """The messages as a provider takes them. Keys starting with ``_`` are Shipmate's own
    (``_request``: the words of a message that came with a repo map); only the newest map is
    sent whole, older ones shrink to a one-line stub, so the history is not filled with maps
    that no longer match the code.

    ``compacted`` (the last compaction) shrinks what is sent, never what is stored: tool
    outputs before ``outputs_dropped_before`` become one-line stubs, and the messages
    between the system prompt and ``upto`` are replaced by its summary."""
    newest_map = max(
        (number for number, message in enumerate(messages) if "_request" in message),
        default=None,
    )
    upto = compacted.upto if compacted and compacted.summary else 0
    dropped_before = compacted.outputs_dropped_before if compacted else 0
    calls: dict[str, dict[str, Any]] = {}
    sent = []
    for number, message in enumerate(messages):
        for call in message.get("tool_calls") or []:
            calls[call.get("id", "")] = call
        if 0 < number < upto:
            continue
        clean = {key: value for key, value in message.items() if not key.startswith("_")}
        if "_request" in message and number != newest_map:
            clean["content"] = fill(
                prompts.load("map_stub.md").strip(), request=message["_request"]
            )
        content = clean.get("content")
        if (
            number < dropped_before
            and clean.get("role") == "tool"
            and isinstance(content, str)
            and len(content) > STUB_OVER
        ):
            call = calls.get(clean.get("tool_call_id", ""), {})
            clean["content"] = output_stub(call, content)
        sent.append(clean)
    if compacted and upto:
        sent.insert(1, summary_message(compacted.summary))
    return sent


def summary_message(summary: str) -> dict[str, Any]:
    """The summary of the earlier conversation, as the message that stands in for it."""
    return {"role": "user", "content": fill(prompts.load("summary.md").strip(), summary=summary)}


def output_stub(call: dict[str, Any], output: str) -> str:
    """One line in place of a tool's output: what the call did, and that it can be redone."""
    return fill(prompts.load("output_stub.md").strip(), action=describe_call(call, output))


def describe_call(call: dict[str, Any], output: str = "") -> str:
    """A tool call in a few words (``read agent/loop.py lines 1–200``, ``$ pytest -q``)."""
    function = call.get("function") or {}
    name = str(function.get("name") or "a tool")
    raw = str(function.get("arguments") or "{}")
    tool_class = REGISTRY.get(name)
    try:
        tool = tool_class.model_validate(json.loads(raw)) if tool_class else None
    except Exception:  # arguments the model got wrong: shown as they came
        tool = None
    if tool is None:
        return f"{name} {raw[:200]}".strip()
    said = tool.summary()
    numbers = NUMBERED_LINE.findall(output) if name == "read_file" else []
    if numbers:
        said = f"read {getattr(tool, 'path', '')} lines {numbers[0]}–{numbers[-1]}"
    return said


def repaired(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored history made valid to send again: every tool call of an assistant message
    answered (a process killed half-way left some open), nothing answered twice."""
    fixed: list[dict[str, Any]] = []
    open_calls: list[str] = []

    def close_open() -> None:
        for call_id in open_calls:
            fixed.append({"role": "tool", "tool_call_id": call_id, "content": INTERRUPTED})
        open_calls.clear()

    for message in messages:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") in open_calls:
                open_calls.remove(message["tool_call_id"])
                fixed.append(message)
            continue  # an answer to no open call: providers reject it
        close_open()
        fixed.append(message)
        if role == "assistant":
            open_calls = [call["id"] for call in message.get("tool_calls") or []]
    close_open()
    return fixed
