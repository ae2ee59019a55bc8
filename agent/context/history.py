"""The stored history, and what of it is sent: private keys dropped, old repo maps stubbed,
a history cut short by a crash or a cancel repaired so providers accept it."""

from __future__ import annotations

from typing import Any

import prompts
from agent.context.prompt import fill

CANCELLED = "Cancelled by the user."
INTERRUPTED = "Interrupted: Shipmate stopped before this call finished; its effect is unknown."


def sendable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as a provider takes them. Keys starting with ``_`` are Shipmate's own
    (``_request``: the words of a message that came with a repo map); only the newest map is
    sent whole, older ones shrink to a one-line stub, so the history is not filled with maps
    that no longer match the code."""
    newest_map = max(
        (number for number, message in enumerate(messages) if "_request" in message),
        default=None,
    )
    sent = []
    for number, message in enumerate(messages):
        clean = {key: value for key, value in message.items() if not key.startswith("_")}
        if "_request" in message and number != newest_map:
            clean["content"] = fill(
                prompts.load("map_stub.md").strip(), request=message["_request"]
            )
        sent.append(clean)
    return sent


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
