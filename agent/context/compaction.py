"""Compaction: what is sent shrinks so a long session fits the model's window.

Two passes, the cheap one first. Tool outputs older than the last few model calls become
one-line stubs (the model can run the call again). If that is not enough, the older part of
the history is summarised by the model into a structured note (``prompts/compact.md``) and
the last turns are kept verbatim. The stored history is never changed: the result is a
``Compacted`` record (summary, ``upto``, ``outputs_dropped_before``) that
``history.sendable`` applies to it, so a resumed session rebuilds the same request from the
stored messages and its last ``Compacted`` event without asking for a new summary.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import prompts
from agent.context.history import describe_call, sendable
from agent.context.prompt import fill
from agent.context.tokens import TokenCounter
from agent.events import Compacted, Retrying, Usage
from agent.llm import LLM, Reply

# The tool outputs of this many of the latest model calls are always sent whole.
KEEP_CALLS = 3
# A compaction aims to leave this share of the room past the system prompt and the tools'
# definitions (up to compact_at), so the next one is not due after a single tool output.
AIM = 0.6
# Of that, at most this share is kept verbatim after a summary; the rest is summarised.
RECENT = 0.5
# A summary request holds at most this share of the window, its note included.
SUMMARY_SHARE = 0.7
# A tool output or tool arguments shown to the summariser keep their head and tail.
CLIP_OUTPUT = 2_000
CLIP_ARGUMENTS = 600
CHARS_PER_TOKEN = 3  # for cutting a text to a number of tokens: errs towards too short


class Compactor:
    """Decides what to drop and what to summarise, and asks the model for the summaries."""

    def __init__(self, llm: LLM, counter: TokenCounter, window: int, compact_at: float) -> None:
        self.llm = llm
        self.counter = counter
        self.window = window
        self.compact_at = compact_at

    @property
    def threshold(self) -> int:
        """Tokens past which a request is compacted first (the whole window when off)."""
        return int(self.window * (self.compact_at or 1.0))

    def tokens(
        self,
        messages: list[dict[str, Any]],
        compacted: Compacted | None,
        tools: list[dict[str, Any]],
    ) -> int:
        """Tokens of the request ``messages`` would be sent as."""
        return self.counter.request(sendable(messages, compacted), tools)

    def due(
        self,
        messages: list[dict[str, Any]],
        compacted: Compacted | None,
        tools: list[dict[str, Any]],
    ) -> bool:
        """Whether the next request would pass ``compact_at`` of the window."""
        return bool(self.compact_at) and self.tokens(messages, compacted, tools) > self.threshold

    async def compact(
        self,
        messages: list[dict[str, Any]],
        compacted: Compacted | None,
        tools: list[dict[str, Any]],
        *,
        aim: int | None = None,
        summarise: bool = False,
    ) -> AsyncIterator[Retrying | Usage | Compacted]:
        """Shrink the request towards ``aim`` tokens (by default well below the threshold;
        0: as small as it goes): stubs first, then (if they are not enough, or
        ``summarise``) a summary. Yields the summary calls' retries and usage, then the new
        ``Compacted`` state, last."""
        before = self.tokens(messages, compacted, tools)
        fixed = self.counter.request(messages[:1], tools)  # the system prompt and the tools
        if aim is None:
            aim = fixed + int((self.threshold - fixed) * AIM)
        previous = compacted if compacted is not None and compacted.summary else None
        start = previous.upto if previous else 1
        assistants = [n for n, message in enumerate(messages) if message["role"] == "assistant"]
        recent = assistants[-KEEP_CALLS] if len(assistants) >= KEEP_CALLS else 0
        dropped = max(compacted.outputs_dropped_before if compacted else 0, recent)
        state = Compacted(
            tokens_before=before,
            tokens_after=before,
            summary=previous.summary if previous else "",
            upto=start if previous else 0,
            outputs_dropped_before=dropped,
        )
        after = self.tokens(messages, state, tools)
        if after > aim or summarise:
            upto = self._upto(messages, state, start, int((aim - fixed) * RECENT))
            stubs_only, stubbed = state, after
            if upto > start:
                summary = state.summary
                async for item in self._summarise(summary, messages[start:upto]):
                    if isinstance(item, str):
                        summary = item
                    else:
                        yield item
                state = state.model_copy(
                    update={
                        "summary": summary,
                        "upto": upto,
                        "messages_summarised": upto - start,
                        "outputs_dropped_before": max(dropped, upto),
                    }
                )
                after = self.tokens(messages, state, tools)
                if after >= stubbed:  # a note longer than what it replaced: keep the words
                    state, after = stubs_only, stubbed
        if after > self.window:  # the recent calls alone do not fit: their outputs go too
            last = max((n for n in assistants if n >= state.upto), default=0)
            state = state.model_copy(update={"outputs_dropped_before": max(dropped, last)})
            after = self.tokens(messages, state, tools)
        yield state.model_copy(update={"tokens_after": after})

    def _upto(self, messages: list[dict[str, Any]], state: Compacted, start: int, room: int) -> int:
        """Where the verbatim part begins: as much of the latest history as fits in ``room``
        tokens, at least the last message with its tool answers, and never between an
        assistant's tool call and its answers."""
        stubbed = state.model_copy(update={"summary": "", "upto": 0})
        counts = [self.counter.message(message) for message in sendable(messages, stubbed)]
        starts = [n for n in range(start + 1, len(messages)) if messages[n]["role"] != "tool"]
        upto = len(messages)
        for number in reversed(starts):
            if upto < len(messages) and sum(counts[number:]) > room:
                break
            upto = number
        return upto if upto < len(messages) else start

    async def _summarise(
        self, previous: str, messages: list[dict[str, Any]]
    ) -> AsyncIterator[Retrying | Usage | str]:
        """The note for ``previous`` and ``messages``, in as many calls as the window needs:
        each folds the next part of the history into the note so far. Yields retries and
        each call's usage, and the final note (a ``str``) last."""
        words = min(2_000, max(200, self.window // 20))
        system = fill(prompts.load("compact.md").strip(), words=str(words))
        # Room for the history in one call, beside the prompt, the note so far and the new one.
        room = int(self.window * SUMMARY_SHARE) - self.counter.text(system) - 4 * words
        room = max(room, 500)
        chunks: list[list[str]] = [[]]
        used = 0
        for message in messages:
            piece = clip(transcript_entry(message), room * CHARS_PER_TOKEN)
            size = self.counter.text(piece)
            if chunks[-1] and used + size > room:
                chunks.append([])
                used = 0
            chunks[-1].append(piece)
            used += size
        summary = previous
        for chunk in chunks:
            async for item in self._note(system, summary, chunk):
                if isinstance(item, str):
                    summary = item
                else:
                    yield item
        yield summary

    async def _note(
        self, system: str, previous: str, chunk: list[str]
    ) -> AsyncIterator[Retrying | Usage | str]:
        """One summary call: the same model, no tools, its text the new note."""
        earlier = fill(prompts.load("compact_previous.md"), summary=previous) if previous else ""
        request = fill(
            prompts.load("compact_request.md").strip(),
            previous=earlier,
            conversation="\n\n".join(chunk),
        )
        sent = [{"role": "system", "content": system}, {"role": "user", "content": request}]
        reply: Reply | None = None
        async for item in self.llm.stream(sent, []):
            if isinstance(item, Reply):
                reply = item
            elif isinstance(item, Retrying):
                yield item
        assert reply is not None
        yield reply.usage
        yield reply.text.strip() or previous


def transcript_entry(message: dict[str, Any]) -> str:
    """One message as the summariser reads it; long tool output keeps its head and tail."""
    role = message.get("role")
    content = message.get("_request") or message.get("content") or ""
    if isinstance(content, list):  # parts: text, and images the summariser need not read
        content = "\n".join(
            str(part.get("text", "")) if part.get("type") == "text" else f"[{part.get('type')}]"
            for part in content
            if isinstance(part, dict)
        )
    elif not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False)
    if role == "tool":
        return f"[tool result]\n{clip(content, CLIP_OUTPUT)}"
    lines = [f"[{role}]", content] if content else [f"[{role}]"]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = clip(str(function.get("arguments") or ""), CLIP_ARGUMENTS)
        lines.append(f"[tool call: {describe_call(call)}] {function.get('name')} {arguments}")
    return "\n".join(lines)


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its head and tail, and what was cut between."""
    if len(text) <= limit:
        return text
    half = max(limit // 2 - 30, 0)
    return f"{text[:half]}\n… [{len(text) - 2 * half:,} characters cut] …\n{text[-half:]}"
