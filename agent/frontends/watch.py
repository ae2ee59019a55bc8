"""``shipmate watch``: an agent in a side terminal that follows the user's edits.

The code index is kept current by its watcher on every save; the files a save changed are
then searched for new AI comments (``agent.context.ai_comments``). New ones, gathered over
a short moment, become one request to the conversation: one session across requests,
answered on the terminal in compact lines. Only comments that were not in the file before
count, and saves whose content is what the agent itself wrote are the agent's own, so its
edits never start a request. Ctrl-C stops: a turn in flight is cancelled, the session kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import TextIO

import prompts
from agent.config import ConfigError, Settings, choose_model, data_dir
from agent.context.ai_comments import AIComment, find_ai_comments
from agent.context.prompt import fill
from agent.conversation import Conversation
from agent.events import Event, IndexReady, ToolFinished
from agent.frontends.headless import TextOutput
from agent.frontends.line_approver import LineApprover, TerminalLines
from agent.index.files import IndexRefused
from agent.index.index import CodeIndex
from agent.index.progress import ProgressLine
from agent.index.watcher import IndexWatcher
from agent.session import SessionError, SessionStore, short_id
from agent.terminal import visible
from tools.base import plural
from tools.names import on_disk
from tools.textio import decode

SETTLE_SECONDS = 0.3  # saves this close together form one request
CONTEXT_LINES = 6  # of code shown to the model above and below a comment
DIFF_LINES = 40  # of a diff shown on the terminal
EXIT_INTERRUPTED = 130
_MAYBE_AI = re.compile(rb"(?i)ai\s*[!?]")

Found = tuple[AIComment, str]  # a comment, and the text of its file when it was found


class WatchOutput(TextOutput):
    """``run``'s progress lines, on one stream, with each edit's diff under it. Every line
    passes through ``visible``: diffs and AI comments are the files' own text."""

    def say(self, line: str, always: bool = False) -> None:
        super().say(visible(line), always)

    def show(self, event: Event) -> None:
        if isinstance(event, IndexReady):
            return  # said when watching began
        super().show(event)
        if isinstance(event, ToolFinished) and event.status == "ok" and event.diff:
            lines = event.diff.rstrip("\n").split("\n")
            for line in lines[:DIFF_LINES]:
                self.say(f"    {line}")
            if len(lines) > DIFF_LINES:
                self.say(f"    … {plural(len(lines) - DIFF_LINES, 'more line')} (shipmate diff)")


class Watch:
    """The loop: saves in, requests out, one turn at a time."""

    def __init__(self, conversation: Conversation, index: CodeIndex, output: WatchOutput) -> None:
        self.conversation = conversation
        self.index = index
        self.output = output
        self.root = index.root
        self.known: dict[str, Counter[str]] = {}  # path → the AI comments it holds
        self.saved: set[str] = set()  # the user's saves since the last request
        self.batches: asyncio.Queue[list[str]] = asyncio.Queue()
        self.interrupted = False  # a turn was cut short by Ctrl-C

    def baseline(self) -> int:
        """Note the AI comments already in the files: they are not requests until edited."""
        count = 0
        with self.index.lock:
            paths = list(self.index.rows)
        for path in paths:
            data = self._read(path)
            if data is None or not _MAYBE_AI.search(data):
                continue
            comments = find_ai_comments(path, decode(data).text)
            if comments:
                self.known[path] = Counter(comment.text for comment in comments)
                count += len(comments)
        return count

    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def changed(paths: list[str], _seconds: float) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: leaving
                loop.call_soon_threadsafe(self.batches.put_nowait, paths)

        watcher = IndexWatcher(self.index, changed).start()
        try:
            await asyncio.to_thread(watcher.ready.wait, 10)
            self.output.say(
                "watching for AI comments (… AI! to change, … AI? to ask); Ctrl-C stops"
            )
            while True:
                paths = await self._gather(await self.batches.get())
                found = await asyncio.to_thread(self.scan, paths)
                if found:
                    await self.request(found)
        finally:
            await asyncio.to_thread(watcher.stop)

    async def _gather(self, paths: list[str]) -> list[str]:
        """This batch and those close behind it (an editor's "save all")."""
        gathered = set(paths)
        while True:
            try:
                more = await asyncio.wait_for(self.batches.get(), SETTLE_SECONDS)
            except TimeoutError:
                return sorted(gathered)
            gathered.update(more)

    def scan(self, paths: list[str]) -> list[Found]:
        """The new AI comments in the user's saves among ``paths``."""
        found: list[Found] = []
        for path in paths:
            data = self._read(path)
            if data is None:
                self.known.pop(path, None)
                continue
            text = decode(data).text
            comments = find_ai_comments(path, text)
            before = self.known.get(path, Counter())
            self.known[path] = Counter(comment.text for comment in comments)
            if self._agents_own(path, data):
                continue
            self.saved.add(path)
            new = Counter(comment.text for comment in comments) - before
            for comment in comments:
                if new[comment.text] > 0:
                    new[comment.text] -= 1
                    found.append((comment, text))
        return found

    def _agents_own(self, path: str, data: bytes) -> bool:
        """Whether ``path`` holds what the agent last wrote to it."""
        ctx = self.conversation.ctx
        if path not in ctx.files_changed:
            return False
        seen = ctx.snapshots.get(on_disk(self.root, path))
        return seen == hashlib.sha256(data).hexdigest()

    def _read(self, path: str) -> bytes | None:
        try:
            return on_disk(self.root, path).read_bytes()
        except OSError:
            return None

    async def request(self, found: list[Found]) -> None:
        """One turn on ``found``, then a word on the comments it was to remove and did not."""
        where = ", ".join(comment.where() for comment, _ in found)
        self.output.say("")
        self.output.say(f"▶ {plural(len(found), 'AI comment')}: {where}")
        for comment, _ in found:
            self.output.say(f"  {comment.where()} {_short(comment.text)}")
        others = sorted(self.saved - {comment.path for comment, _ in found})
        self.saved.clear()
        text = request_text(found, others)
        try:
            async for event in self.conversation.send(text):
                self.output.show(event)
        except asyncio.CancelledError:
            self.interrupted = True
            raise
        for comment in await asyncio.to_thread(self.left_behind, found):
            self.output.say(f"! still there: {comment.where()} {_short(comment.text)}")
        self.output.say("watching…")

    def left_behind(self, found: list[Found]) -> list[AIComment]:
        """The ``AI!`` comments of ``found`` still in their files (they stay known, so they
        do not come back as requests); said, never removed behind the user's back."""
        left: list[AIComment] = []
        for path in sorted({comment.path for comment, _ in found}):
            data = self._read(path)
            now = find_ai_comments(path, decode(data).text) if data is not None else []
            self.known[path] = Counter(comment.text for comment in now)
            asked = {c.text for c, _ in found if c.path == path and c.kind == "change"}
            left += [comment for comment in now if comment.text in asked]
        return left


def request_text(found: list[Found], saved: list[str]) -> str:
    """The request for ``found`` (prompts/watch_request.md), each comment with its code."""
    first = "AI comments at " + ", ".join(comment.where() for comment, _ in found)
    blocks = [_context(comment, text) for comment, text in found]
    text = first + "\n\n" + fill(prompts.load("watch_request.md"), comments="\n\n".join(blocks))
    if saved:
        note = fill(prompts.load("watch_saved.md"), files=", ".join(saved))
        text += "\n" + note.strip()
    return text.strip()


def _context(comment: AIComment, text: str) -> str:
    """The comment and the code around it, numbered, its own lines marked with ``>``."""
    lines = text.split("\n")
    start = max(1, comment.first_line - CONTEXT_LINES)
    end = min(len(lines), comment.line + CONTEXT_LINES)
    width = len(str(end))
    shown = []
    for number in range(start, end + 1):
        mark = ">" if comment.first_line <= number <= comment.line else " "
        shown.append(f"{mark}{number:>{width}} | {lines[number - 1]}")
    what = "change (AI!)" if comment.kind == "change" else "question (AI?)"
    code = "\n".join(shown)
    return f"### {comment.where()}: {what}\nComment: {comment.text}\n```\n{code}\n```"


def _short(text: str, width: int = 60) -> str:
    words = " ".join(text.split())
    return words if len(words) <= width else words[: width - 1] + "…"


async def watch(
    settings: Settings,
    workspace: Path,
    out: TextIO,
    stdin: TextIO,
    continue_session: bool = False,
    resume: str | None = None,
) -> int:
    """Watch until Ctrl-C; the exit code (0, or 130 when a turn was cut short)."""
    from agent.llm import LLM
    from agent.policy.rules import RuleBook
    from agent.policy.sandboxing import sandbox_for

    output = WatchOutput(out, out)
    output.header(choose_model(settings), settings.approval, workspace)
    try:
        index = CodeIndex(workspace, max_files=settings.index_max_files)
        stats = await asyncio.to_thread(index.refresh, ProgressLine(out), threading.Event())
    except IndexRefused as error:
        output.say(f"shipmate: {error}", always=True)
        return 2
    how = "cold" if stats.cold else "warm"
    output.say(f"indexed {plural(stats.files, 'file')} ({how}, {stats.seconds:.2f} s)")
    store = SessionStore(data_dir() / "sessions.db")
    session = None
    try:
        if continue_session or resume:
            session = store.to_resume(workspace, resume)
        llm = LLM.from_settings(settings)  # waits for litellm's import, if still running
    except (ConfigError, SessionError) as error:
        if session is not None:
            store.release(session)
        store.close()
        index.close()
        output.say(f"shipmate: {error}", always=True)
        return 2
    lines = TerminalLines(stdin).start()
    parts = dict(
        llm=llm,
        settings=settings,
        workspace=workspace,
        approver=LineApprover(lines, out),
        store=store,
        sandbox=sandbox_for(settings, workspace),
        rules=RuleBook(workspace),
        interactive=True,
    )
    conversation = Conversation.resume(session, **parts) if session else Conversation(**parts)
    conversation.ctx.index = index  # kept current by the watcher; the session uses it
    loop = Watch(conversation, index, output)
    try:
        if before := await asyncio.to_thread(loop.baseline):
            output.say(
                f"left alone: {plural(before, 'AI comment')} already in the files "
                "(edit one to send it)"
            )
        await loop.run()
    except asyncio.CancelledError:
        output.say("")
        if conversation.result is not None or conversation.resumed:
            shown = short_id(conversation.session_id)
            output.say(f"stopped; the session is kept: shipmate watch --resume {shown}")
        else:
            output.say("stopped")
        return EXIT_INTERRUPTED if loop.interrupted else 0
    finally:
        await conversation.close()  # its MCP servers: stopped, their processes gone
        store.close()
        index.close()
    return 0


def main(
    settings: Settings,
    workspace: Path,
    continue_session: bool = False,
    resume: str | None = None,
) -> int:
    """Entry point for the CLI: everything goes to stdout, the terminal beside the editor."""
    with contextlib.redirect_stderr(sys.stdout):
        return asyncio.run(
            watch(settings, workspace, sys.stdout, sys.stdin, continue_session, resume)
        )
