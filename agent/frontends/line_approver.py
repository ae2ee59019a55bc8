"""Approvals asked on a plain terminal, one line each: y (once), n (no), a (always).

Used by ``shipmate watch``, where the terminal is a log beside the editor, not an app.
Input is read by a thread of its own, so the event loop (the turn, the file watcher) never
blocks on it; what was typed before a question was asked is dropped, so a stray Enter
never answers a question not yet shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TextIO

from agent.policy.approval import REFUSED, ApprovalRequest, Decision
from agent.terminal import visible

ANSWERS = {"y": "once", "yes": "once", "n": "no", "no": "no", "": "no", "a": "always"}
ANSWERS["always"] = "always"
NO_INPUT = (
    "Refused: nobody can answer approvals here (the terminal's input is closed). Do not "
    "retry it; carry on without it, and say in your final answer what you would have done."
)


class TerminalLines:
    """The lines typed on ``stream``, for the event loop that ``start`` runs on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    def start(self) -> TerminalLines:
        loop = asyncio.get_running_loop()

        def put(line: str | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: Shipmate is leaving
                loop.call_soon_threadsafe(self.queue.put_nowait, line)

        def read() -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in iter(self.stream.readline, ""):
                    put(line)
            put(None)

        threading.Thread(target=read, name="shipmate-input", daemon=True).start()
        return self

    def drain(self) -> None:
        """Forget what was typed so far."""
        while not self.queue.empty():
            if self.queue.get_nowait() is None:
                self.closed = True

    async def readline(self) -> str | None:
        """The next line, without its newline; None once the input is closed."""
        if self.closed:
            return None
        line = await self.queue.get()
        if line is None:
            self.closed = True
            return None
        return line.rstrip("\r\n")


class LineApprover:
    """Asks on ``out`` and reads the answer from ``lines``."""

    def __init__(self, lines: TerminalLines, out: TextIO) -> None:
        self.lines = lines
        self.out = out

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.lines.drain()
        if self.lines.closed:
            return Decision(allow=False, message=NO_INPUT)
        why = f" ({request.reason})" if request.reason else ""
        always = f"always: {request.suggestion}" if request.suggestion else "always"
        self.ask(f"? {request.summary}{why} — y = yes, n = no, a = {always} [y/n/a] ")
        while True:
            line = await self.lines.readline()
            if line is None:
                self.say("")
                return Decision(allow=False, message=NO_INPUT)
            answer = ANSWERS.get(line.strip().lower())
            if answer == "no":
                return Decision(allow=False, message=REFUSED)
            if answer is not None:
                return Decision(allow=True, remember=answer == "always")
            self.ask("  answer y, n or a: ")

    def ask(self, text: str) -> None:
        """``text`` quotes the model's arguments: shown through ``visible``, never raw."""
        self.out.write(visible(text))
        self.out.flush()

    def say(self, line: str) -> None:
        print(visible(line), file=self.out, flush=True)
