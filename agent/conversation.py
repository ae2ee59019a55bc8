"""A conversation with the model: the user sends messages, the agent works, for hours.

``Conversation.send(text)`` yields one turn's typed events, ending with that turn's
``Result``; history carries over to the next ``send``. Front-ends render the events and
answer approvals through an ``Approver``. Cancelling a turn (the consuming task, or
``cancel()``) stops it at once (the stream closes, a running command is killed) and leaves
the history valid: the next message goes on in the same session. A request that would fill
``compact_at`` of the model's window is compacted first (``agent.context.compaction``);
``compact()`` does it on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import prompts
from agent.autotest import AutoTest
from agent.config import (
    APPROVAL_ORDER,
    MAP_TOKENS_CEILING,
    ApprovalMode,
    Settings,
    data_dir,
    project_approval,
)
from agent.context.compaction import Compactor
from agent.context.history import CANCELLED, repaired, sendable
from agent.context.mentions import Attached, attach
from agent.context.prompt import FolderInstructions, fill, folder_instructions, system_prompt
from agent.context.tokens import TokenCounter, context_window
from agent.events import (
    AssistantMessage,
    Committed,
    Compacted,
    ContextUpdated,
    Error,
    Event,
    IndexReady,
    PermissionDenial,
    PlanUpdated,
    Result,
    RunStatus,
    SessionStarted,
    TextDelta,
    ToolCallInfo,
    ToolFinished,
    ToolStarted,
    ToolStatus,
    TurnFinished,
    Usage,
    UsageUpdated,
    UserMessage,
)
from agent.index.files import IndexRefused, is_artifact
from agent.index.index import CodeIndex
from agent.llm import LLM, LLMError, Reply
from agent.mcp.config import Declared
from agent.mcp.servers import McpServers
from agent.policy.approval import Approver, denied, permitted
from agent.policy.permissions import Permissions
from agent.policy.rules import RuleBook
from agent.policy.sandboxing import describe_sandbox
from agent.session import SessionInfo, SessionStore
from agent.vcs.checkpoints import Recorder, Snapshot, blob_store
from agent.vcs.commits import (
    SUBJECT_LIMIT,
    WIP_MESSAGE,
    CommitError,
    changed_paths,
    co_author,
    commit_files,
    committable,
    with_trailer,
)
from agent.vcs.undo import UndoError, Undone, session_diff, turn_diff, undo
from tools.base import Image, Tool, ToolContext, ToolError, ToolResult
from tools.executables import imports_from
from tools.git import hook_runner
from tools.listing import dirty_files
from tools.names import safe_text
from tools.paths import canonical
from tools.registry import REGISTRY
from tools.sandbox import Sandbox
from tools.secret_files import is_secret_path

# How much of a command the user ran goes to the model with the next message.
USER_OUTPUT_LIMIT = 4000


class Conversation:
    # Called as the index builds (files done, files in all): a front-end's progress display.
    index_progress: Callable[[int, int], None] | None = None

    def __init__(
        self,
        *,
        llm: LLM,
        settings: Settings,
        workspace: Path,
        approver: Approver,
        store: SessionStore,
        sandbox: Sandbox,
        rules: RuleBook,
        tools: dict[str, type[Tool]] = REGISTRY,
        appended_prompt: str = "",
        session_id: str | None = None,
        history: list[dict[str, Any]] | None = None,
        compacted: Compacted | None = None,
        auto_commit: bool = False,
        interactive: bool = False,
        mcp: McpServers | None = None,
        mcp_servers: list[Declared] | None = None,
    ) -> None:
        """``appended_prompt``: the user's own instructions, after the system prompt.
        ``auto_commit``: the front-end's default when the auto_commit setting is unset.
        ``interactive``: a person answers approvals (the TUI); the prompt says so.
        ``session_id`` and ``history`` go on with a stored session (see ``resume``), and
        ``compacted``, its last ``compacted`` event, sends it as it was sent before, without
        a new summary call. ``mcp``: the MCP servers of a session this one replaces (kept
        running); else the settings' and the repository's trusted ones, and ``mcp_servers``
        (an editor's), start now in the background."""
        self.llm = llm
        self.appended_prompt = appended_prompt
        self.settings = settings
        self.approver = approver
        self.store = store
        self.sandbox = sandbox
        self.builtin_tools = tools
        self.tools = dict(tools)  # and the MCP servers' tools, as they come up
        self.resumed = session_id is not None
        self.session_id = session_id or uuid.uuid4().hex
        self.ctx = ToolContext(
            workspace,
            command_timeout=settings.command_timeout,
            log_dir=data_dir() / "logs" / self.session_id,
            sandbox=sandbox,
            test_command=settings.test_command,
        )
        sandboxed = sandbox.active or settings.dangerously_no_sandbox
        self.permissions = Permissions(settings.approval, rules, self.ctx.workspace, sandboxed)
        self.ctx.reveal = self.permissions.reveals
        self.ctx.model = llm.model
        self.auto_commit = auto_commit if settings.auto_commit is None else settings.auto_commit
        self.interactive = interactive
        folder = data_dir() / "checkpoints" / self.session_id
        blobs = blob_store(self.ctx.workspace, self.session_id, folder)
        self.checkpoints = Recorder(self.ctx.workspace, self.session_id, blobs, store)
        self.ctx.checkpoints = self.checkpoints
        self._snapshot: Snapshot | None = None  # of the command running now
        self.messages: list[dict[str, Any]] = list(history or [])
        self.window = context_window(llm, settings.context_window)
        self.counter = TokenCounter(llm.model)
        self.compactor = Compactor(llm, self.counter, self.window, settings.compact_at)
        self.compacted = compacted if _applies(compacted, self.messages) else None
        self.specs = [tool.spec() for tool in tools.values()]
        log_dir = data_dir() / "logs" / self.session_id
        self.mcp = mcp or McpServers(settings, self.ctx.workspace, log_dir, mcp_servers)
        with contextlib.suppress(RuntimeError):  # no event loop yet: started when it opens
            asyncio.get_running_loop()
            self.mcp.start()
        self.session_usage = Usage()
        self.result: Result | None = None  # the last turn's, once it ended
        self.notices: list[str] = []  # said when the session starts, after the usual ones
        self.unanswered: list[ToolCallInfo] = []
        # What the user did between turns (a mode changed, a command run), told to the model
        # with the next message; by kind, a later note of one kind replacing the earlier.
        self._notes: dict[str, str] = {}
        self._opened = False
        self._worker: asyncio.Task[None] | None = None
        self._told: str | None = None
        self._running: str | None = None  # the id of the tool call running now
        self._images: list[tuple[str, list[Image]]] = []  # tools' images, shown after them
        self.autotest = AutoTest(settings, self.ctx, self.permissions, approver)
        self._begin_turn()

    @classmethod
    def resume(
        cls, session: SessionInfo, *, store: SessionStore, llm: LLM, **kwargs: Any
    ) -> Conversation:
        """Go on with a stored session: its whole history (a process killed half-way left
        tool calls unanswered: they are answered as interrupted, and stored so), its id,
        its last compaction; the model is today's, said in a notice when it changed."""
        stored = store.messages(session.id)
        history = repaired(stored)
        if history != stored:
            store.replace_messages(session.id, history)
        conversation = cls(
            llm=llm,
            store=store,
            session_id=session.id,
            history=history,
            compacted=store.last_compacted(session.id),  # sent as it was, no new summary
            **kwargs,
        )
        if session.model != llm.model:
            conversation.notices.append(
                f"This session ran with {session.model} before; it goes on with {llm.model}."
            )
        return conversation

    def _begin_turn(self) -> None:
        """What one turn counts from: its model calls, usage, refusals and changed files."""
        self.result = None
        self.usage = Usage()
        self.turns = 0
        self.denials: list[PermissionDenial] = []
        self.answer = ""
        self.started = time.monotonic()
        self.changed_before = set(self.ctx.files_changed)
        self.dirty_at_start: set[str] = set()
        self._images = []  # a cancelled turn's are not shown with the next one
        self.autotest.begin_turn()

    async def send(self, text: str) -> AsyncIterator[Event]:
        """One turn: ``text`` from the user, then the agent's work, ending with a ``Result``.

        The turn runs in a task of its own, so ``cancel()`` (or cancelling the consumer)
        stops it wherever it is, and the cancelled result still closes the stream.
        """
        async for event in self._serve(self._turn(text), self._cancelled):
            yield event

    async def compact(self) -> AsyncIterator[Event]:
        """Compact the history now (the TUI's /compact): old tool outputs become stubs and
        the older part is summarised, the last turns kept verbatim. Yields the summary
        calls' ``Retrying`` and ``UsageUpdated`` (their cost counts in the session's), then
        ``Compacted`` (``tokens_after`` equal to ``tokens_before``: nothing to compact), or
        an ``Error`` if the summary call failed, which changes nothing. Like a turn, it
        cannot run beside one, and ``cancel()`` stops it, leaving things as they were."""
        async for event in self._serve(self._compact_now(), list):
            yield event

    async def _compact_now(self) -> AsyncIterator[Event]:
        try:
            async for event in self._compact(aim=0, summarise=True, in_turn=False):
                yield event
        except LLMError as error:
            self.session_usage += error.usage
            yield Error(message=f"Compacting failed: {error}", fatal=False, detail=error.detail)

    async def _serve(
        self, events: AsyncIterator[Event], cancelled: Callable[[], list[Event]]
    ) -> AsyncIterator[Event]:
        """Run ``events`` in a task of its own and pass them on; a cancelled task's stream
        ends with what ``cancelled`` says (a turn's cancelled tool call and ``Result``)."""
        if self._worker is not None and not self._worker.done():
            raise RuntimeError("a turn is already running; cancel it or wait for its result")
        queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()

        async def work() -> None:
            try:
                async for event in events:
                    queue.put_nowait(self._record(event))
            except asyncio.CancelledError:
                for last in cancelled():
                    queue.put_nowait(last)
            except BaseException as error:  # a bug: the consumer raises it
                queue.put_nowait(error)
            finally:
                queue.put_nowait(None)

        worker = self._worker = asyncio.create_task(work())
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not worker.done():
                worker.cancel()
                await asyncio.wait([worker])  # the history is repaired before we return

    def cancel(self) -> None:
        """Stop the running turn (or compaction) at once; a turn's stream ends with a
        cancelled ``Result``."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    def _record(self, event: Event) -> Event:
        """Store every event but streamed text; a store that starts failing on the way (a
        full disk) is said once, in the stream, and the session goes on."""
        if not isinstance(event, TextDelta):
            self.store.add_event(self.session_id, event)
        return event

    async def _turn(self, text: str) -> AsyncIterator[Event]:
        self._begin_turn()
        self.checkpoints.start_turn(text)
        workspace = self.ctx.workspace
        if not self._opened:
            async for event in self._open(text):
                yield event
        if self.store.problem != self._told:
            self._told = self.store.problem
            yield Error(message=str(self._told), fatal=False)
        attached = await attach(text, self.ctx, self.permissions, self.mcp)
        yield UserMessage(text=text, files=attached.files)
        for refusal in attached.refused:
            yield Error(message=refusal, fatal=False)
        self.dirty_at_start = dirty_files(workspace)
        self._append(await self._user_message(text, attached))
        while True:
            budget = self._budget_exhausted()
            if budget:
                yield Error(message=budget)
                yield self._finish("budget_exceeded", error=budget)
                return
            reply: Reply | None = None
            try:
                async for item in self._model_call():
                    if isinstance(item, Reply):
                        reply = item
                    else:
                        yield item
            except LLMError as error:
                self._count(error.usage)
                yield Error(message=str(error), detail=error.detail)
                yield self._finish("config_error" if error.config else "failed", error=str(error))
                return
            assert reply is not None
            self.turns += 1
            self._count(reply.usage)
            yield UsageUpdated(call=reply.usage, total=self.usage)
            yield AssistantMessage(text=reply.text, tool_calls=reply.tool_calls)
            self._append(_assistant_message(reply))
            self.unanswered = list(reply.tool_calls)
            for call in reply.tool_calls:
                async for event in self._call_tool(call):
                    yield event
            if self._images:  # after every result: a user message may not come between them
                self._append(images_message(self._images))
                self._images = []
            yield self._context()
            yield TurnFinished(turn=self.turns)
            if not reply.tool_calls:
                self.answer = reply.text
                async for event in self._auto_test(self.autotest.after_answer(self._changed)):
                    yield event
                if self.autotest.follow_up is not None:  # a fix round: failures go back
                    self._append({"role": "user", "content": self.autotest.follow_up})
                    continue
                if failure := self.autotest.failure:
                    yield Error(message=failure)
                async for event in self._auto_commit():
                    yield event
                yield self._finish("failed" if failure else "success", error=failure)
                return

    async def _model_call(self) -> AsyncIterator[Event | Reply]:
        """One model call on the history as it is sent: compacted first when it would pass
        ``compact_at`` of the window, and when the provider says it is too long anyway,
        compacted harder and sent once more."""
        self._sync_tools()
        for notice in self.mcp.notices():  # a server that came up late, or failed since
            yield Error(message=notice, fatal=False)
        if self.compactor.due(self.messages, self.compacted, self.specs):
            async for event in self._compact():
                yield event
        try:
            async for item in self.llm.stream(sendable(self.messages, self.compacted), self.specs):
                yield item
            return
        except LLMError as error:
            if not error.too_long:
                raise
            self._count(error.usage)
        tokens = self.compactor.tokens(self.messages, self.compacted, self.specs)
        async for event in self._compact(aim=tokens // 2, summarise=True):
            yield event
        try:
            async for item in self.llm.stream(sendable(self.messages, self.compacted), self.specs):
                yield item
        except LLMError as error:
            if not error.too_long:
                raise
            raise LLMError(
                "The conversation is still too long for the model's context window after "
                f"compacting it: if {self.llm.model} takes fewer than {self.window:,} tokens, "
                "set context_window to its real size (e.g. SHIPMATE_CONTEXT_WINDOW="
                f"{max(1024, self.window // 2)}), or start a new session.",
                detail=error.detail,
                usage=error.usage,
            ) from error

    async def _compact(
        self, *, aim: int | None = None, summarise: bool = False, in_turn: bool = True
    ) -> AsyncIterator[Event]:
        """Compact what is sent (``Compactor.compact``); the summary calls count in the
        turn's usage (``in_turn``) and the session's."""
        async for item in self.compactor.compact(
            self.messages, self.compacted, self.specs, aim=aim, summarise=summarise
        ):
            if isinstance(item, Usage):
                if in_turn:
                    self._count(item)
                else:
                    self.session_usage += item
                yield UsageUpdated(call=item, total=self.usage if in_turn else self.session_usage)
            elif isinstance(item, Compacted):
                self.compacted = item
                gained = item.tokens_after < item.tokens_before or item.messages_summarised
                if gained or not in_turn:  # on demand, "nothing to compact" is an answer
                    yield item
            else:
                yield item

    def _context(self) -> ContextUpdated:
        """How full the window is: what the next request would send, as it would be sent."""
        tokens = self.compactor.tokens(self.messages, self.compacted, self.specs)
        percent = round(100 * tokens / self.window, 1)
        return ContextUpdated(tokens=tokens, window=self.window, percent=percent)

    async def _open(self, title: str) -> AsyncIterator[Event]:
        """The session's start, once: its record, the notices, the code index."""
        self._opened = True
        if self.resumed:
            self.store.reopen(self.session_id, self.llm.model)
        else:
            self.store.create(self.session_id, self.ctx.workspace, self.llm.model, title)
        await self.mcp.ready()
        self._sync_tools()
        yield SessionStarted(
            session_id=self.session_id,
            model=self.llm.model,
            workspace=str(self.ctx.workspace),
            approval=self.settings.approval,
            tools=list(self.tools),
            sandbox=describe_sandbox(self.sandbox),
            notices=self._notices() + self.mcp.notices(),
            resumed=self.resumed,
        )
        self._told = self.store.problem  # among its notices
        stop = threading.Event()
        try:
            ready = await asyncio.to_thread(self._open_index, stop)
        except asyncio.CancelledError:
            stop.set()  # the build's thread cannot be cancelled, but stops when told
            raise
        yield ready
        system = system_prompt(
            self.ctx.workspace, self.settings.approval, self.appended_prompt, self.interactive
        )
        if not self.messages:
            self._append({"role": "system", "content": system})
        else:  # a resumed session: today's prompt (date, mode, AGENTS.md), same history
            self.messages[0] = {"role": "system", "content": system}

    def _sync_tools(self) -> None:
        """The built-in tools and those of the MCP servers that are up now."""
        tools = dict(self.builtin_tools)
        tools.update(
            (name, tool) for name, tool in self.mcp.tools().items() if name not in tools
        )  # a server cannot shadow a built-in tool
        if tools.keys() != self.tools.keys() or any(
            tools[name] is not self.tools[name] for name in tools
        ):
            self.tools = tools
            self.specs = [tool.spec() for tool in tools.values()]

    async def close(self) -> None:
        """Stop the session's MCP servers (unless another session goes on with them)."""
        await self.mcp.close()

    def _count(self, usage: Usage) -> None:
        self.usage += usage
        self.session_usage += usage

    def _open_index(self, stop: threading.Event) -> IndexReady:
        """Build or refresh the code index (the front-end's, if it opened one: watch keeps
        it current); the session goes on without it if that fails."""
        try:
            index = self.ctx.index or CodeIndex(
                self.ctx.workspace, max_files=self.settings.index_max_files
            )
            stats = index.refresh(self.index_progress, stop)
        except IndexRefused as error:
            return IndexReady(
                problem=f"{error} This run goes on without the code index (reading files and "
                "grep still work)."
            )
        except Exception as error:  # a broken index must not end the session
            return IndexReady(problem=f"the code index is unavailable ({error})")
        self.ctx.index = index
        return IndexReady(files=stats.files, seconds=round(stats.seconds, 3), cold=stats.cold)

    async def _user_message(self, text: str, attached: Attached | None = None) -> dict[str, Any]:
        """The user's message, after a repo map ranked for it (sized to the model's context),
        followed by the files it mentioned with ``@`` (the map's focus).

        ``_request`` keeps the words alone: once a newer message brings its own map, this one
        is sent as the words and a one-line stub (``context.history.sendable``).
        """
        tokens = self.settings.map_tokens
        if tokens is None:
            # A share of the window, and never more than an eighth of a small one.
            tokens = min(MAP_TOKENS_CEILING, max(1024, self.window // 50), self.window // 8)
        if note := self._undone_note():
            text = f"{note}\n\n{text}"
        if self._notes:
            text = "\n\n".join([*self._notes.values(), text])
            self._notes = {}
        files = attached.files if attached is not None else []
        words = f"{text}\n\n{attached.text}" if attached is not None and attached.text else text
        message: dict[str, Any] = {"role": "user", "content": words}
        if not tokens or self.ctx.index is None:
            return message
        repo_map = await asyncio.to_thread(self.ctx.index.repo_map, text, files, tokens)
        if repo_map:
            filled = fill(prompts.load("repo_map.md").rstrip(), map=repo_map, request=words)
            message.update(content=filled, _request=words)
        return message

    def _undone_note(self) -> str:
        """What the user undid since the model's last message (else it would think its
        changes are still there)."""
        undone = self.checkpoints.untold_undos()
        if not undone:
            return ""
        files = sorted({path for checkpoint in undone for path in checkpoint.files})
        commits = [commit[:12] for checkpoint in undone for commit in checkpoint.commits]
        return fill(
            prompts.load("undone.md").strip(),
            turns=" and ".join(f"your turn {checkpoint.request!r}" for checkpoint in undone),
            files=", ".join(files) or "no file",
            commits=f", and your commits {', '.join(commits)} were undone" if commits else "",
        )

    async def undo(self, force: bool = False) -> Undone:
        """Undo the agent's last turn (the TUI's /undo); UndoError says why not. The model
        is told with the next message."""
        if self._worker is not None and not self._worker.done():
            raise UndoError("A turn is running; stop it (Esc) before undoing.")
        done = await undo(
            self.ctx.workspace, self.session_id, self.store, self.checkpoints.blobs, force=force
        )
        self.checkpoints.current = None
        return done

    def diff(self, colour: bool = False) -> str:
        """What the agent changed in this session (the TUI's /diff)."""
        return session_diff(
            self.ctx.workspace, self.store, self.session_id, self.checkpoints.blobs, colour
        )

    async def uncommitted(self) -> list[str]:
        """The files the agent changed in this session that differ from HEAD (none outside
        git): what a front-end marks as not committed yet."""
        repository = self.checkpoints.repository
        if repository is None:
            return []
        changed = self.checkpoints.changed()  # the store is bound to this thread
        return await asyncio.to_thread(changed_paths, repository, changed)

    # What the user does between turns (the TUI's commands)

    def use_model(self, llm: LLM) -> None:
        """Go on with ``llm`` from the next message (the TUI's /model): its context window
        and token counting too; the history is kept as it is."""
        self.llm = llm
        self.ctx.model = llm.model
        self.window = context_window(llm, self.settings.context_window)
        self.counter = TokenCounter(llm.model)
        self.compactor = Compactor(llm, self.counter, self.window, self.settings.compact_at)

    def set_approval(self, mode: ApprovalMode) -> str | None:
        """The user chose approval ``mode`` (Shift+Tab, /approval): it applies at once, the
        system prompt's mode section follows, and the model is told with the next message
        (else it would go on asking, or proposing, as before). Returns a warning when the
        choice goes past what the project's .shipmate.toml allows: the user's explicit
        choice wins, but they should know."""
        if mode == self.permissions.mode:
            return None
        self.permissions.mode = mode
        self.settings = self.settings.model_copy(update={"approval": mode})
        if self.messages and self.messages[0].get("role") == "system":
            system = system_prompt(self.ctx.workspace, mode, self.appended_prompt, self.interactive)
            self.messages[0] = {"role": "system", "content": system}
        if self.messages:  # else the first message's system prompt says it already
            self._notes["approval"] = fill(prompts.load("mode_changed.md").strip(), mode=mode)
        cap = project_approval(self.ctx.workspace)
        if cap is not None and APPROVAL_ORDER.index(mode) > APPROVAL_ORDER.index(cap):
            return (
                f"Approval {mode} goes past this project's .shipmate.toml (approval = {cap}); "
                "it applies because you chose it."
            )
        return None

    async def repo_map(self, query: str = "", tokens: int | None = None) -> str:
        """The ranked repo map for ``query`` (the TUI's /map), the index built first if no
        message did yet; ToolError says why there is none."""
        if self.ctx.index is None:
            ready = await asyncio.to_thread(self._open_index, threading.Event())
            if ready.problem:
                raise ToolError(ready.problem)
        assert self.ctx.index is not None
        budget = tokens or self.settings.map_tokens or MAP_TOKENS_CEILING
        return await asyncio.to_thread(self.ctx.index.repo_map, query, (), budget)

    async def commit_now(self, message: str = "") -> AsyncIterator[Event]:
        """Commit the agent's uncommitted changes of this session now (the TUI's /commit):
        with ``message``, or one the model writes as auto-commit does; hooks run in the
        sandbox. Yields ``Committed``, or an ``Error`` saying why nothing was committed.
        Like a turn, it cannot run beside one."""
        async for event in self._serve(self._commit_now(message.strip()), list):
            yield event

    async def _commit_now(self, message: str) -> AsyncIterator[Event]:
        repository = self.checkpoints.repository
        if repository is None:
            yield Error(message="Nothing to commit: the workspace is not a git repository.")
            return
        changed = self.checkpoints.changed()  # the store is bound to this thread
        paths, _ = await asyncio.to_thread(committable, repository, changed)
        if not paths:
            yield Error(message="The agent has no uncommitted changes in this session.")
            return
        if not message:
            try:
                async for item in self._commit_message(self.diff()):
                    if isinstance(item, str):
                        message = item
                    else:
                        yield item
            except LLMError as error:
                self.session_usage += error.usage
            message = message or _message_from("Shipmate's changes", paths)
        message = with_trailer(message, co_author(self.llm.model))
        try:
            commit = await commit_files(repository, paths, message, run_hook=hook_runner(self.ctx))
        except CommitError as error:
            yield Error(message=f"The changes were not committed: {error}")
            return
        if self.checkpoints.current is not None:
            self.checkpoints.add_commit(commit)  # undo of the turn takes it back too
        yield Committed(commit=commit, subject=message.split("\n", 1)[0], files=paths)

    async def run_for_user(self, tool: Tool, tell: bool = False) -> AsyncIterator[Event]:
        """Run ``tool`` because the user asked (the TUI's /test and !cmd): the permission
        check, approval and sandbox of the model's calls, but outside the history. Yields
        ``ToolStarted``, maybe ``ApprovalRequested``, ``ToolFinished`` (and ``TestsFinished``
        for run_tests). ``tell``: the output goes to the model with the next message. The call's id
        starts with ``user-``."""
        call_id = f"user-{uuid.uuid4().hex[:8]}"

        def cancelled() -> list[Event]:
            return [
                ToolFinished(
                    call_id=call_id, name=tool.name, status="cancelled", summary="cancelled"
                )
            ]

        async for event in self._serve(self._user_tool(tool, call_id, tell), cancelled):
            yield event

    async def _user_tool(self, tool: Tool, call_id: str, tell: bool) -> AsyncIterator[Event]:
        tool.bind(self.ctx)
        summary = tool.summary()
        yield ToolStarted(
            call_id=call_id,
            name=tool.name,
            kind=tool.kind,
            summary=summary,
            arguments=tool.model_dump(),
        )
        refusal = None
        check = self.permissions.check(tool)
        async for item in permitted(self.permissions, self.approver, call_id, tool, summary, check):
            if isinstance(item, str):
                refusal = item
            else:
                yield item
        if refusal is not None:
            yield ToolFinished(
                call_id=call_id, name=tool.name, status="denied", summary=refusal, output=refusal
            )
            return
        try:
            result = await tool.run(self.ctx)
        except ToolError as error:
            result = ToolResult(output=f"Error: {error}", is_error=True, summary=str(error))
        if tell:
            output = result.output
            if len(output) > USER_OUTPUT_LIMIT:
                output = output[:USER_OUTPUT_LIMIT] + "\n[output cut]"
            command = tool.subject() or summary
            note = fill(prompts.load("user_ran.md").strip(), command=command, output=output)
            self._notes[call_id] = note
        yield ToolFinished(
            call_id=call_id,
            name=tool.name,
            status="error" if result.is_error else "ok",
            summary=result.summary or ("error" if result.is_error else "ok"),
            output=result.output,
        )
        if result.tests is not None:
            yield result.tests.model_copy(update={"call_id": call_id})

    def _notices(self) -> list[str]:
        notices = [self.store.problem] if self.store.problem else []
        notices += self.settings.notices
        if folders := imports_from(self.ctx.workspace):
            shown = ", ".join(self.ctx.relative(folder) for folder in folders)
            notices.append(
                f"Shipmate's Python imports code from this workspace ({shown}), so a command "
                "could change what Shipmate runs next time; install Shipmate in an environment "
                "of its own (python -m venv ~/.shipmate && ~/.shipmate/bin/pip install …)."
            )
        if self.settings.max_cost is not None and not self.llm.price_known():
            notices.append(
                f"--max-cost ${self.settings.max_cost:g} is not enforced: litellm has no price "
                f"for {self.llm.model}; set input_cost_per_mtok and output_cost_per_mtok (US "
                "dollars per million tokens) to count its cost."
            )
        if self.settings.dangerously_no_sandbox:
            notices.append("The sandbox is off (--dangerously-no-sandbox): commands run as you.")
        elif not self.sandbox.active:
            notices.append(
                f"No sandbox: {self.sandbox.problem}. Every command needs approval; install "
                "bubblewrap (apt-get install bubblewrap) to let commands run in a sandbox."
            )
        return notices + self.notices

    def _budget_exhausted(self) -> str | None:
        limit = self.settings.max_turns
        if self.turns >= limit:
            return f"Stopped: the turn budget ran out ({self.turns} of --max-turns {limit})."
        cost = self.settings.max_cost
        if cost is not None and self.usage.cost_usd >= cost:
            return (
                f"Stopped: the cost budget ran out (${self.usage.cost_usd:.4f} of "
                f"--max-cost ${cost:g})."
            )
        return None

    async def _call_tool(self, call: ToolCallInfo) -> AsyncIterator[Event]:
        tool_class = self.tools.get(call.name)
        try:
            tool = self._parse(call, tool_class)
        except ToolError as error:
            yield ToolStarted(call_id=call.id, name=call.name, kind=None, summary=call.name)
            yield self._answer(call, "error", ToolResult(output=f"Error: {error}", is_error=True))
            return
        assert tool_class is not None
        tool.bind(self.ctx)
        summary = tool.summary()
        self._running = call.id
        yield ToolStarted(
            call_id=call.id,
            name=call.name,
            kind=tool_class.kind,
            summary=summary,
            arguments=tool.model_dump(),
            server=getattr(tool_class, "server", None),
        )
        refusal = None
        check = self.permissions.check(tool)
        async for item in permitted(self.permissions, self.approver, call.id, tool, summary, check):
            if isinstance(item, str):
                refusal = item
            else:
                yield item
        if refusal is not None:
            refused = denied(call.id, tool, summary, refusal, check)
            self.denials.append(refused)
            yield self._answer(call, "denied", ToolResult(output=refusal, is_error=True), refused)
            return
        if tool_class.kind == "edit":  # auto-test measures what fails before the first edit
            async for event in self._auto_test(self.autotest.before_edit()):
                yield event
        try:
            async for event in self._before(tool):
                yield event
            result = await tool.run(self.ctx)
        except ToolError as error:
            result = ToolResult(output=f"Error: {error}", is_error=True, summary=str(error))
        except Exception as error:  # a bug in a tool must not end the session
            result = ToolResult(
                output=f"Error: the tool failed unexpectedly ({type(error).__name__}: {error}).",
                is_error=True,
                summary=f"{type(error).__name__}: {error}",
            )
        if tool.kind in ("edit", "execute"):  # what may have changed files: checkpointed
            if problem := await asyncio.to_thread(self._after):
                yield Error(message=problem, fatal=False)
            self.checkpoints.save()
        if result.images:
            if self.llm.takes_images():
                self._images.append((call.name, result.images))
            else:
                result.output += (
                    f"\n[{self.llm.model} does not take images, so it is not shown them]"
                )
        blocks, files = ([], []) if result.is_error else self._folder_instructions(tool)
        yield self._answer(call, "error" if result.is_error else "ok", result, None, blocks, files)
        if result.plan is not None:
            yield PlanUpdated(items=result.plan)
        if result.tests is not None:
            yield self.autotest.marked(result.tests.model_copy(update={"call_id": call.id}))

    async def _auto_test(
        self, items: AsyncIterator[Event | PermissionDenial]
    ) -> AsyncIterator[Event]:
        """Pass on auto-test's events; a run it was refused counts among the turn's refusals."""
        async for item in items:
            if isinstance(item, PermissionDenial):
                self.denials.append(item)
            else:
                yield item

    async def _before(self, tool: Tool) -> AsyncIterator[Event]:
        """Checkpoint what ``tool`` may change: the files an edit names (the user's own
        uncommitted changes to them committed first, with auto-commit), or what git sees
        changed before a command."""
        if tool.kind == "execute":
            self._snapshot = await asyncio.to_thread(self.checkpoints.before_command)
            return
        if tool.kind != "edit":
            return
        paths = []
        for raw in tool.files_used():
            try:
                paths.append(self.ctx.relative(canonical(self.ctx.workspace, raw)))
            except ToolError:
                continue  # the tool refuses it too
        if self.auto_commit:
            async for event in self._commit_users_changes(paths):
                yield event
        await asyncio.to_thread(self.checkpoints.before_edit, paths)

    def _after(self) -> str | None:
        """Record what the tool (or the command) changed, as the agent left it; what went
        wrong, if the checkpoint could not be kept."""
        snapshot, self._snapshot = self._snapshot, None
        try:
            self.checkpoints.after_command(snapshot)
            self.checkpoints.settle()
        except Exception as error:  # a checkpoint that fails must not end the session
            return f"A checkpoint could not be saved ({error}); undo of this turn may be partial."
        return None

    async def _commit_users_changes(self, paths: list[str]) -> AsyncIterator[Event]:
        """The user's uncommitted changes to files the agent is about to edit, committed on
        their own first (auto-commit only), so the agent's commit holds only its work."""
        repository = self.checkpoints.repository
        if repository is None:
            return
        own = set(self.checkpoints.changed())
        mine = [path for path in paths if path not in own and not is_secret_path(path)]
        users = await asyncio.to_thread(changed_paths, repository, mine)
        if not users:
            return
        try:
            commit = await commit_files(repository, users, WIP_MESSAGE + "\n")
        except CommitError as error:
            yield Error(
                message=f"Your changes to {', '.join(users)} were not committed first "
                f"({error}); Shipmate's checkpoint keeps them, and undo restores them.",
                fatal=False,
            )
            return
        yield Committed(commit=commit, subject=WIP_MESSAGE, files=users, wip=True)

    async def _auto_commit(self) -> AsyncIterator[Event]:
        """Commit this turn's changes (the auto_commit setting), with a message the model
        writes in one short call, or one made from the turn if that fails."""
        repository = self.checkpoints.repository
        turn = self.checkpoints.current
        if not self.auto_commit or repository is None or turn is None:
            return
        changed = [path for path, change in turn.files.items() if change.before != change.after]
        paths, _ = await asyncio.to_thread(committable, repository, changed)
        if not paths:
            return
        message = ""
        try:
            async for item in self._commit_message(turn_diff(turn, self.checkpoints.blobs)):
                if isinstance(item, str):
                    message = item
                else:
                    yield item
        except LLMError as error:
            self._count(error.usage)
        message = message or _message_from(turn.request, paths)
        message = with_trailer(message, co_author(self.llm.model))
        try:
            commit = await commit_files(repository, paths, message, run_hook=hook_runner(self.ctx))
        except CommitError as error:
            yield Error(message=f"The changes were not committed: {error}", fatal=False)
            return
        self.checkpoints.add_commit(commit)
        subject = message.split("\n", 1)[0]
        yield Committed(commit=commit, subject=subject, files=paths, auto=True)

    async def _commit_message(self, diff: str) -> AsyncIterator[Event | str]:
        """The model's commit message for ``diff`` ('' if unusable); its usage counts."""
        request = fill(
            prompts.load("commit_request.md"),
            request=self.checkpoints.current.request if self.checkpoints.current else "",
            diff=diff[:12_000] + ("\n[diff cut]" if len(diff) > 12_000 else ""),
        )
        sent = [
            {"role": "system", "content": prompts.load("commit_message.md")},
            {"role": "user", "content": request},
        ]
        reply: Reply | None = None
        async for item in self.llm.stream(sent, []):
            if isinstance(item, Reply):
                reply = item
        assert reply is not None
        self._count(reply.usage)
        yield UsageUpdated(call=reply.usage, total=self.usage)
        yield _commit_text(reply.text)

    def _folder_instructions(self, tool: Tool) -> tuple[list[FolderInstructions], list[str]]:
        """The nearest AGENTS.md of each file ``tool`` read or edited, unless given before:
        the blocks to add to its result, and the files to record as given (``_instructions``
        on the tool message, so the history says so, also in a resumed session)."""
        workspace = self.ctx.workspace
        whole = _sent_whole_from(self.compacted)  # earlier ones were stubbed or summarised
        added = {
            file for message in self.messages[whole:] for file in message.get("_instructions", ())
        }
        blocks: list[FolderInstructions] = []
        files: list[str] = []
        for raw in tool.files_used():
            try:
                real = canonical(workspace, raw)
            except ToolError:
                continue
            more, recorded = folder_instructions(workspace, real, added)
            blocks += more
            files += recorded
            added.update(recorded)
        return blocks, files

    def _parse(self, call: ToolCallInfo, tool_class: type[Tool] | None) -> Tool:
        """The validated tool call; a ToolError tells the model what was wrong with it."""
        if tool_class is None:
            if why := self.mcp.unavailable(call.name):
                raise ToolError(why)
            names = ", ".join(self.tools)
            raise ToolError(f"There is no tool named '{call.name}'. The tools are: {names}.")
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as error:
            raise ToolError(
                f"The arguments for {call.name} are not valid JSON ({error}); received: "
                f"{call.arguments[:500]!r}. Send them again as one JSON object."
            ) from None
        if not isinstance(arguments, dict):
            raise ToolError(f"The arguments for {call.name} must be a JSON object.")
        try:
            return tool_class.model_validate(arguments)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'arguments'}: {item['msg']}"
                if item["type"] != "value_error" or item["loc"]
                else str(item["msg"]).removeprefix("Value error, ")  # says where itself
                for item in error.errors()
            )
            raise ToolError(f"Invalid arguments for {call.name}: {problems}.") from None

    def _answer(
        self,
        call: ToolCallInfo,
        status: ToolStatus,
        result: ToolResult,
        denial: PermissionDenial | None = None,
        instructions: list[FolderInstructions] | None = None,
        recorded: list[str] | None = None,
    ) -> ToolFinished:
        """Give the model the tool's result (with the folder ``instructions`` it reached), and
        tell the front-ends (why, if refused)."""
        instructions = instructions or []
        content = "\n\n".join([result.output, *(item.block() for item in instructions)])
        content = safe_text(content)  # file names that are not UTF-8, as \\xNN
        message: dict[str, Any] = {"role": "tool", "tool_call_id": call.id, "content": content}
        if recorded:
            message["_instructions"] = recorded
        self._append(message)
        self.unanswered = [c for c in self.unanswered if c.id != call.id]
        why = denial.model_dump(include={"refusal", "rule", "suggestion", "path"}) if denial else {}
        return ToolFinished(
            call_id=call.id,
            name=call.name,
            status=status,
            summary=result.summary or status,
            output=result.output,
            diff=result.diff,
            files_changed=result.files_changed,
            instructions=[item.file for item in instructions],
            server=getattr(self.tools.get(call.name), "server", None),
            **why,
        )

    def _append(self, message: dict[str, Any]) -> None:
        self.store.add_message(self.session_id, len(self.messages), message)
        self.messages.append(message)

    def _changed(self) -> set[str]:
        """The files this turn changed: by the edit tools, or by commands (git sees those)."""
        changed = set(self.ctx.files_changed) - self.changed_before
        appeared = dirty_files(self.ctx.workspace) - self.dirty_at_start
        return changed | {path for path in appeared if not is_artifact(path)}

    def _finish(self, status: RunStatus, error: str | None = None) -> Result:
        changed = self._changed()
        self.result = Result(
            status=status,
            result=self.answer,
            error=error,
            turns=self.turns,
            usage=self.usage,
            cost_usd=self.usage.cost_usd,
            files_changed=sorted(changed),
            permission_denials=self.denials,
            session_id=self.session_id,
            duration_ms=int((time.monotonic() - self.started) * 1000),
            auto_test=self.autotest.report(),
        )
        self.store.finish(self.result)
        return self.result

    def _cancelled(self) -> list[Event]:
        """Close a turn that was cancelled: answer its open tool calls, so the history stays
        valid for the next message, and store the end. The call that was running ends as
        cancelled for the front-ends too."""
        if self.result is not None:
            return [self.result]
        self._after()  # what a killed command or a half-done turn changed is kept too
        self.checkpoints.save()
        ended: list[Event] = []
        for call in self.unanswered:
            self._append({"role": "tool", "tool_call_id": call.id, "content": CANCELLED})
            if call.id == self._running:
                ended.append(
                    ToolFinished(
                        call_id=call.id, name=call.name, status="cancelled", summary="cancelled"
                    )
                )
        self.unanswered = []
        ended.append(self._finish("cancelled", error="Cancelled by the user."))
        for event in ended:
            self.store.add_event(self.session_id, event)
        return ended


def _sent_whole_from(compacted: Compacted | None) -> int:
    """The first message a compaction leaves as it was: instructions given before it were
    dropped from what is sent, so they are given again when they apply again."""
    if compacted is None:
        return 0
    return max(compacted.upto if compacted.summary else 0, compacted.outputs_dropped_before)


def _applies(compacted: Compacted | None, messages: list[dict[str, Any]]) -> bool:
    """Whether a stored compaction still fits the history it came with: its positions
    within it, its summary standing in front of a message that is not a tool's answer."""
    if compacted is None:
        return False
    upto = compacted.upto if compacted.summary else 0
    if upto > len(messages) or compacted.outputs_dropped_before > len(messages):
        return False
    return upto == 0 or (upto > 1 and (upto == len(messages) or messages[upto]["role"] != "tool"))


def images_message(images: list[tuple[str, list[Image]]]) -> dict[str, Any]:
    """The images tools returned, as a message of their own: providers take images in a
    user message, not in a tool result."""
    content: list[dict[str, Any]] = []
    for name, shown in images:
        content.append({"type": "text", "text": f"The image(s) {name} returned:"})
        content += [
            {"type": "image_url", "image_url": {"url": f"data:{image.mime};base64,{image.data}"}}
            for image in shown
        ]
    return {"role": "user", "content": content}


def _assistant_message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": _valid_json(call.arguments)},
            }
            for call in reply.tool_calls
        ]
    return message


def _valid_json(arguments: str) -> str:
    """Providers reject history with broken tool arguments; the tool result keeps the original."""
    try:
        json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return "{}"
    return arguments or "{}"


def _commit_text(text: str) -> str:
    """The model's message, cleaned: no fence or quotes, a subject of at most 72 characters."""
    lines = [line.rstrip() for line in text.strip().strip("`").strip().splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    subject = lines[0].strip().strip("\"'").rstrip(".")
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    body = "\n".join(lines[1:]).strip()
    return subject + (f"\n\n{body}" if body else "")


def _message_from(request: str, paths: list[str]) -> str:
    """A message built from the turn, when the model could not write one."""
    words = " ".join(request.split()) or "Shipmate's changes"
    subject = words if len(words) <= SUBJECT_LIMIT else words[: SUBJECT_LIMIT - 1] + "…"
    files = "\n".join(f"- {path}" for path in paths)
    return f"{subject}\n\nAsked of Shipmate; files changed:\n{files}"
