"""``shipmate`` with no command: the interactive session.

The first frame comes before anything slow: the settings, litellm's import, the sandbox
probe and the conversation are prepared in a thread after it, and a message sent meanwhile
waits in the queue. Nothing here imports pydantic or the core before that frame (they cost
~0.3 s); the modules that do are imported where they are first needed. The app renders the
core's events and answers its approvals; the agent's work is all in ``Conversation``.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType

from agent.tui.commands import HELP, MODES, MORE, parse
from agent.tui.palette import ShipmateCommands
from agent.tui.render import clean, seconds
from agent.tui.widgets.completions import Completions
from agent.tui.widgets.conversation_view import ConversationView
from agent.tui.widgets.note import Note
from agent.tui.widgets.prompt_input import PromptInput
from agent.tui.widgets.status_bar import StatusBar
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage as UserLine

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.conversation import Conversation
    from agent.events import Compacted, Event, Result, TestsFinished
    from agent.llm import LLM
    from agent.mcp.config import Declared
    from agent.mcp.prompts import PromptCommand
    from agent.policy.approval import ApprovalRequest, Decision
    from agent.tui.screens.onboarding import OnboardingScreen
    from agent.tui.widgets.assistant_text import AssistantText
    from agent.tui.widgets.plan_view import PlanView
    from tools.sandbox import Sandbox

HERE = Path(__file__).parent
STYLES = [HERE / "app.tcss", *sorted((HERE / "widgets").glob("*.tcss"))]
STYLES += sorted((HERE / "screens").glob("*.tcss"))
QUIT_WINDOW = 2.0  # seconds within which a second Ctrl+C quits
PLACEHOLDER = "Ask Shipmate… (Enter sends · Ctrl+J newline · /help)"
DENY_TITLE = "Why not? Enter denies with this · Esc: back"
INSTANT = ("help", "quit", "approval")  # commands that need no conversation: never queued


@dataclass
class Launch:
    """How ``shipmate`` was started: where, the command line's settings ``flags`` (read
    with the settings files after the first frame) or ``settings`` already read, and which
    session to go on with."""

    workspace: Path
    flags: dict[str, Any] = field(default_factory=dict)
    settings: Settings | None = None
    continue_session: bool = False
    resume: str | None = None


class ShipmateApp(App[None]):
    CSS_PATH = STYLES  # type: ignore[assignment]
    TITLE = "shipmate"
    COMMANDS = App.COMMANDS | {ShipmateCommands}
    AUTO_FOCUS = "PromptInput"  # typing goes to the input from the first frame
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "interrupt", "Stop", priority=True),
        Binding("shift+tab", "cycle_mode", "Approval mode", priority=True),
        Binding("ctrl+c", "quit_twice", "Quit", show=False),
    ]

    def __init__(self, launch: Launch) -> None:
        super().__init__()
        self.launch = launch
        self.settings = launch.settings
        self.mode: str = launch.flags.get("approval") or "ask"
        if self.settings is not None:
            self.mode = self.settings.approval
        self.conversation: Conversation | None = None
        self.parts: dict[str, Any] = {}
        self.busy = False
        self.queue: list[tuple[str, UserLine]] = []
        self.blocks: dict[str, ToolBlock] = {}
        self.pending: list[ToolBlock] = []
        self.streaming: AssistantText | None = None
        self.plan: PlanView | None = None
        self.denying: ToolBlock | None = None
        self.draft = ""
        self.quit_pressed = 0.0
        self.view = ConversationView()
        self.input = PromptInput(placeholder=PLACEHOLDER)
        self.completions = self.input.completions = Completions()
        self.input.files = self._files
        self.input.more_commands = self._more_commands
        self.input.take_queued = self._take_queued
        self.sending: UserLine | None = None  # the message of the turn in flight
        self.status = StatusBar()
        self.commits: list[str] = []  # for the summary printed on leaving
        self.last_tests = ""
        self.onboarding: OnboardingScreen | None = None  # open while no model is chosen

    def compose(self) -> ComposeResult:
        yield self.view
        yield self.completions
        yield self.input
        yield self.status

    def on_mount(self) -> None:
        self.theme = terminal_theme(os.environ.get("COLORFGBG", ""))
        if self.settings is not None:
            self._apply_theme(self.settings.theme)
        self.input.focus()
        self.status.mode = self.mode
        self.status.model = self.launch.flags.get("model") or "…"
        self.call_after_refresh(self._start)

    async def on_unmount(self) -> None:
        """Leaving: the session's MCP servers stop, and their processes are gone."""
        if self.conversation is not None:
            await self.conversation.close()

    def _start(self) -> None:
        """After the first frame: the slow parts, in a thread."""
        self.run_worker(self._load, thread=True, name="load")

    def _load(self) -> None:
        from agent.config import ConfigError, NoModel, check_flags, load_settings
        from agent.llm import LLM
        from agent.policy.sandboxing import sandbox_for

        try:
            if self.settings is None:
                check_flags(self.launch.flags)
                self.settings = load_settings(self.launch.workspace, self.launch.flags)
                self.call_from_thread(self._settled)
            llm = LLM.from_settings(self.settings)  # imports litellm: seconds
        except NoModel as error:
            self.call_from_thread(self._onboard, str(error))
            return
        except ConfigError as error:
            self.call_from_thread(self._failed_to_start, str(error))
            return
        sandbox = sandbox_for(self.settings, self.launch.workspace)
        self.call_from_thread(self._prepared, llm, sandbox, current_branch(self.launch.workspace))

    def _settled(self) -> None:
        """The settings files were read: the mode they set, unless changed meanwhile."""
        from agent.config import choose_model

        assert self.settings is not None
        if self.mode == (self.launch.flags.get("approval") or "ask"):
            self.mode = self.status.mode = self.settings.approval
        self._apply_theme(self.settings.theme)
        self.status.model = choose_model(self.settings)

    def _apply_theme(self, name: str) -> None:
        """The ``theme`` setting: ``auto`` keeps what the terminal suggested."""
        chosen = {"dark": "textual-dark", "light": "textual-light"}.get(name, name)
        if chosen == "auto":
            return
        if chosen in self.available_themes:
            self.theme = chosen
        else:
            known = ", ".join(["auto", "dark", "light", *sorted(self.available_themes)])
            said = f"There is no theme {name!r}; theme takes one of: {known}."
            self.notify(said, severity="warning", markup=False)

    async def _failed_to_start(self, message: str) -> None:
        if self.onboarding is not None:  # the model chosen there does not start: said there
            self.onboarding.failed(message)
            return
        await self.view.add(Note(message, "error"))
        self.status.index = "not started"

    async def _prepared(self, llm: LLM, sandbox: Sandbox, branch: str) -> None:
        from agent.config import ConfigError, data_dir
        from agent.conversation import Conversation
        from agent.policy.rules import RuleBook
        from agent.session import SessionError, SessionStore
        from agent.tui.approver import TuiApprover

        workspace = self.launch.workspace
        try:
            rules = RuleBook(workspace)
        except ConfigError as error:
            await self._failed_to_start(str(error))
            return
        store = SessionStore(data_dir() / "sessions.db")
        self.parts = dict(
            llm=llm,
            settings=self.settings,
            workspace=workspace,
            approver=TuiApprover(self._ask),
            store=store,
            sandbox=sandbox,
            rules=rules,
            auto_commit=True,
            interactive=True,
        )
        self.status.model = llm.model
        self.status.branch = branch
        assert self.settings is not None
        self.status.sandbox = sandbox_state(sandbox, self.settings)
        session = None
        if self.launch.continue_session or self.launch.resume:
            try:
                session = store.to_resume(workspace, self.launch.resume)
            except SessionError as error:
                await self.view.add(Note(f"{error} A new session starts instead.", "error"))
        if session is not None:
            conversation = Conversation.resume(session, **self.parts)
            await self._replay(session.id, store.events(session.id))
        else:
            conversation = Conversation(**self.parts)
        self._wire(conversation)
        self.conversation = conversation  # ready: queued messages go now
        if session is not None:
            await self._git_state()
        if self.onboarding is not None:
            self.onboarding.dismiss(True)
        self._next()
        for declared in conversation.mcp.waiting:  # the repository's servers: asked once
            self._ask_trust(declared)

    def _ask_trust(self, declared: Declared) -> None:
        from agent.tui.screens.trust import TrustScreen

        self.push_screen(TrustScreen(declared), partial(self._trusted, declared))

    async def _trusted(self, declared: Declared, trusted: bool | None) -> None:
        """Trusted: kept for this project (the launch exactly) and started now."""
        from agent.mcp.trust import TrustBook, TrustNotSaved

        if not trusted or self.conversation is None:
            return
        try:
            TrustBook(self.launch.workspace).trust(declared.name, declared.server)
        except TrustNotSaved as error:
            await self.view.add(Note(f"{error}; the server was not started.", "error"))
            return
        self.conversation.mcp.add(declared)
        said = f"MCP server '{declared.name}' trusted for this project; it starts now."
        await self.view.add(Note(said))

    # Onboarding

    def _onboard(self, problem: str) -> None:
        """No model is configured: the first screen helps choose one."""
        from agent.tui.screens.onboarding import OnboardingScreen

        self.onboarding = OnboardingScreen(problem)
        self.push_screen(self.onboarding, self._onboarded)

    def on_onboarding_screen_chosen(self, message: OnboardingScreen.Chosen) -> None:
        work = partial(self._adopt, message.model, message.api_base)
        self.run_worker(work, thread=True, name="load")

    def _adopt(self, model: str, api_base: str | None) -> None:
        """The model chosen on the onboarding screen, in a thread: checked as a start checks
        it (nothing is saved if it cannot work), saved, then the start goes on from the
        settings read again."""
        from agent.config import ConfigError
        from agent.llm import LLM
        from agent.onboarding import save_choice, with_choice

        assert self.settings is not None
        try:
            chosen = with_choice(self.settings, model, api_base)
            LLM.from_settings(chosen)  # an unknown model, a missing key
            path = save_choice(chosen.model or model, chosen.api_base)
        except ConfigError as error:
            self.call_from_thread(self._failed_to_start, str(error))
            return
        if (screen := self.onboarding) is not None:
            self.call_from_thread(screen.saved, str(path))
        self.settings = chosen if self.launch.settings is not None else None
        self._load()

    async def _onboarded(self, started: bool | None) -> None:
        screen, self.onboarding = self.onboarding, None
        assert screen is not None
        if started:
            note = f"Model: {self.status.model}, saved in {screen.saved_to} for the next starts."
            await self.view.add(Note(note))
        else:
            await self._failed_to_start(screen.problem)

    def _wire(self, conversation: Conversation) -> None:
        if warning := conversation.set_approval(self.mode):  # type: ignore[arg-type]
            self.notify(warning, severity="warning", markup=False)
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:  # from the index's thread
            percent = 100 * done // max(total, 1)
            loop.call_soon_threadsafe(setattr, self.status, "index", f"index: building {percent}%")

        conversation.index_progress = progress

    async def _replay(self, session_id: str, stored: list[dict[str, Any]]) -> None:
        """A resumed session's conversation, on screen again."""
        from pydantic import TypeAdapter, ValidationError

        from agent.events import Event, IndexReady, Result, Retrying, SessionStarted, UserMessage

        reader: TypeAdapter[Event] = TypeAdapter(Event)
        for data in stored:
            try:
                event = reader.validate_python(data)
            except ValidationError:
                continue  # written by another version
            if isinstance(event, UserMessage):
                await self.view.add(UserLine(event.text, files=event.files))
            elif isinstance(event, SessionStarted | IndexReady | Result | Retrying):
                continue
            else:
                await self._show(event)
        for block in self.blocks.values():
            block.untimed()  # replayed now: how long it took then is not known
        self.plan = None
        undone = [c for c in self.parts["store"].checkpoints(session_id) if c.undone]
        if undone:
            turns = ", ".join(f"{c.turn} ({c.request!r})" for c in undone)
            await self.view.add(Note(f"Undone since: turn {turns}; its changes are gone."))
        await self.view.add(Note("Resumed: the model sees the whole conversation above.", "marker"))

    # Sending

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text
        if self.denying is not None:
            block, self.denying = self.denying, None
            self._restore_draft()
            block.deny_with(text)
            return
        command = text.startswith("/") or (text.startswith("!") and bool(text[1:].strip()))
        if command and (self.conversation is not None or parse(text)[0] in INSTANT):
            await self._dispatch(text)
            return
        line = await self.view.add(UserLine(text, queued=True))  # a command waits for the start
        assert isinstance(line, UserLine)
        self.queue.append((text, line))
        self._next()

    async def _dispatch(self, text: str) -> None:
        if text.startswith("/"):
            await self._command(text)
        else:
            await self._shell(text[1:].strip())

    def _next(self) -> None:
        """Send the first queued message, when the agent is free (a command typed while
        Shipmate was starting runs now)."""
        if self.queue and self.conversation is not None and not self.busy:
            text, line = self.queue.pop(0)
            if text.startswith(("/", "!")):
                line.remove()
                self.call_later(self._dispatch_then_next, text)
                return
            line.send()
            self.sending = line
            self._run(self._turn(text))

    async def _dispatch_then_next(self, text: str) -> None:
        await self._dispatch(text)
        self._next()

    def _run(self, work: Any) -> None:
        self.busy = self.status.busy = True
        self.run_worker(work, group="turn")

    async def _turn(self, text: str) -> None:
        assert self.conversation is not None
        await self._consume(self.conversation.send(text))

    async def _consume(self, events: Any) -> None:
        try:
            async for event in events:
                await self._show(event)
        finally:
            if self.streaming is not None:
                await self.streaming.finish()
                self.streaming = None
            self.plan = None
            self.pending = [block for block in self.pending if block.waiting]
            # Blocks pruned from the view are forgotten too.
            self.blocks = {key: block for key, block in self.blocks.items() if block.is_attached}
            if isinstance(self.focused, ToolBlock) and not self.focused.waiting:
                self.input.focus()  # the turn ended (or was stopped) while it asked
            self.busy = self.status.busy = False
            await self._git_state()
            self._next()

    async def _git_state(self) -> None:
        """The branch, and how many of the agent's files are not committed, in the status
        bar: after every turn, undo and commit."""
        self.status.branch = await asyncio.to_thread(current_branch, self.launch.workspace)
        if self.conversation is not None:
            self.status.uncommitted = len(await self.conversation.uncommitted())

    async def _show(self, event: Event) -> None:
        """One event of the core, on screen."""
        from agent.events import (
            AssistantMessage,
            Committed,
            Compacted,
            ContextUpdated,
            Error,
            IndexReady,
            PlanUpdated,
            Result,
            Retrying,
            SessionStarted,
            TestsFinished,
            TextDelta,
            ToolFinished,
            ToolStarted,
            UsageUpdated,
            UserMessage,
        )
        from agent.tui.widgets.assistant_text import AssistantText
        from agent.tui.widgets.plan_view import PlanView

        conversation = self.conversation
        if isinstance(event, TestsFinished):
            self.last_tests = event.summary
        elif isinstance(event, Committed):
            self.commits.append(event.commit)
        match event:
            case UserMessage() if self.sending is not None:
                self.sending.attach(event.files)
            case SessionStarted():
                for notice in event.notices:
                    await self.view.add(Note(notice, "notice"))
            case IndexReady(problem=None):
                self.status.index = f"index: ready ({event.files:,} files)"
            case IndexReady():
                self.status.index = "index: unavailable"
                await self.view.add(Note(event.problem or "", "notice"))
            case TextDelta():
                text = event.text
                if self.streaming is not None and (cut := self.streaming.split_at(text)):
                    self.streaming.add(text[:cut])  # a long reply goes on in a new segment
                    await self.streaming.finish()
                    self.streaming, text = None, text[cut:]
                if self.streaming is None:
                    self.streaming = AssistantText()
                    await self.view.add(self.streaming)
                if text:
                    self.streaming.add(text)
            case Retrying():
                if self.streaming is not None:  # what it streamed is void
                    await self.streaming.remove()
                    self.streaming = None
                when = f"in {event.delay_seconds:g} s" if event.delay_seconds else "now"
                await self.view.add(Note(f"{event.reason} (retrying {when})", "notice"))
            case AssistantMessage():
                if self.streaming is not None:
                    await self.streaming.finish(event.text)
                    self.streaming = None
                elif event.text.strip():
                    await self.view.add(AssistantText(event.text))
            case ToolStarted(name="update_plan"):
                pass  # the plan itself is shown
            case ToolStarted() if not self._open_block(event.call_id):
                block = ToolBlock(event.call_id, event.name, event.kind, event.summary)
                self.blocks[event.call_id] = block
                await self.view.add(block)
            case ToolFinished() if event.call_id in self.blocks:
                self.blocks[event.call_id].finish(event)
                if event.call_id.startswith("user-"):  # what the user ran: its output shown
                    self.blocks[event.call_id].expanded = True
            case TestsFinished(call_id=call_id) if call_id in self.blocks:
                self.blocks[call_id].add_tests(event)
            case TestsFinished():
                await self.view.add(auto_test_block(event))
            case PlanUpdated() if self.plan is not None:
                self.plan.show(event.items)
            case PlanUpdated():
                self.plan = PlanView(event.items)
                await self.view.add(self.plan)
            case UsageUpdated() if conversation is not None:
                self.status.cost = conversation.session_usage.cost_usd
            case ContextUpdated():
                self.status.context_tokens = event.tokens
                self.status.context_percent = event.percent
            case Compacted():
                await self.view.add(Note(compacted(event), "marker"))
            case Committed(wip=True):
                files = ", ".join(event.files)
                await self.view.add(Note(f"git: your changes to {files} committed first"))
            case Committed():
                await self.view.add(Note(f"git: committed {event.commit[:10]} {event.subject}"))
            case Error():
                await self.view.add(Note(event.message, "error"))
            case Result(status="cancelled"):
                await self.view.add(Note("Interrupted. The session goes on with the next message."))
            case Result():
                await self.view.add(Note(finished(event), "done"))

    # Approvals

    def _ask(self, request: ApprovalRequest, future: asyncio.Future[Decision]) -> None:
        """The approver's callback, on the app's loop: show the request, in order."""
        self.call_later(self._show_request, request, future)

    async def _show_request(
        self, request: ApprovalRequest, future: asyncio.Future[Decision]
    ) -> None:
        if future.done():
            return  # the turn was cancelled meanwhile
        block = self._open_block(request.call_id)
        if block is None:  # asked before its tool_started was shown, or by auto-test
            block = ToolBlock(request.call_id, request.name, request.kind, request.summary)
            self.blocks[request.call_id] = block
            await self.view.add(block)
        block.ask(request, future)
        self.pending.append(block)
        self.bell()
        if len([b for b in self.pending if b.waiting]) == 1:
            self._focus_pending()

    def _open_block(self, call_id: str) -> ToolBlock | None:
        """The block of call ``call_id`` if it has not finished (ids may repeat across
        model calls)."""
        block = self.blocks.get(call_id)
        return block if block is not None and block.elapsed is None else None

    def _focus_pending(self) -> None:
        self.pending = [block for block in self.pending if block.waiting]
        if self.pending:
            self.pending[0].focus()
            self.pending[0].scroll_visible(animate=False)
        else:
            self.input.focus()

    def on_tool_block_answered(self, message: ToolBlock.Answered) -> None:
        self._focus_pending()

    def on_tool_block_wants_message(self, message: ToolBlock.WantsMessage) -> None:
        self.denying = message.block
        self.draft = self.input.text
        self.input.clear()
        self.input.add_class("denying")
        self.input.border_title = DENY_TITLE
        self.input.focus()

    def _restore_draft(self) -> None:
        self.input.text = self.draft
        self.input.move_cursor(self.input.document.end)
        self.draft = ""
        self.input.remove_class("denying")
        self.input.border_title = None

    # Keys

    def action_interrupt(self) -> None:
        """Esc: close a screen over the conversation (/sessions) or the completions, back
        from a denial's message, else stop the turn in flight."""
        if len(self.screen_stack) > 1:
            self.screen.dismiss(None)
        elif self.input.close_completions():
            return
        elif self.denying is not None:
            block, self.denying = self.denying, None
            self._restore_draft()
            block.focus()
        elif self.busy and self.conversation is not None:
            self.conversation.cancel()
        else:
            self.input.focus()

    def _files(self) -> list[str]:
        """The workspace's files for ``@`` completion (in a thread): the index's list when
        it is ready, else git's or a walk's."""
        from agent.tui.completion import workspace_paths

        conversation = self.conversation
        index = conversation.ctx.index if conversation is not None else None
        paths = workspace_paths(self.launch.workspace, index)
        if conversation is None:
            return paths
        from agent.mcp.resources import resource_names

        return [name for name, _ in resource_names(conversation.mcp)] + paths

    def prompt_commands(self) -> list[PromptCommand]:
        """The MCP servers' prompts, as slash commands (none before the session is made)."""
        if self.conversation is None:
            return []
        from agent.mcp.prompts import prompt_commands

        return prompt_commands(self.conversation.mcp)

    def _more_commands(self) -> list[tuple[str, str]]:
        return [(command.name, command.description) for command in self.prompt_commands()]

    def _take_queued(self) -> str | None:
        """Up in an empty input: the last queued message leaves the queue, to be edited."""
        if not self.queue:
            return None
        text, line = self.queue.pop()
        line.remove()
        return text

    def on_user_message_take_back(self, message: UserLine.TakeBack) -> None:
        """A queued message clicked: out of the queue, into the input after what is there."""
        for index, (text, line) in enumerate(self.queue):
            if line is message.line:
                del self.queue[index]
                line.remove()
                self.input.text = f"{self.input.text}\n{text}" if self.input.text else text
                self.input.move_cursor(self.input.document.end)
                self.input.focus()
                return

    def choose_mode(self, mode: str) -> None:
        """The palette's approval modes."""
        self._set_mode(mode)
        self.notify(f"Approval mode: {mode}", markup=False)

    async def palette_command(self, name: str, takes_argument: bool) -> None:
        """A slash command from the palette: run, or put in the input to be finished."""
        if takes_argument:
            self.input.text = f"/{name} "
            self.input.move_cursor(self.input.document.end)
            self.input.focus()
        else:
            await self._command(f"/{name}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On the onboarding screen Shift+Tab moves between its fields."""
        return action != "cycle_mode" or self.onboarding is None

    def action_cycle_mode(self) -> None:
        self._set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])

    def _set_mode(self, mode: str) -> None:
        """The user's choice applies at once; the model is told with the next message."""
        self.mode = self.status.mode = mode
        conversation = self.conversation
        if conversation is not None and (warning := conversation.set_approval(mode)):  # type: ignore[arg-type]
            self.notify(warning, severity="warning", markup=False)

    def action_quit_twice(self) -> None:
        now = time.monotonic()
        if now - self.quit_pressed < QUIT_WINDOW:
            self.exit()
            return
        self.quit_pressed = now
        self.notify("Press Ctrl+C again to quit.", timeout=QUIT_WINDOW)

    # Slash commands

    async def _command(self, text: str) -> None:
        name, argument = parse(text)
        conversation = self.conversation
        if conversation is not None and is_prompt(text):
            await self._prompt(text)  # queued like a message while the agent works
        elif name == "quit":
            self.exit()
        elif name == "help":
            await self.view.add(Note(HELP))
        elif name == "approval":
            if argument not in MODES:
                modes = ", ".join(MODES)
                await self.view.add(Note(f"/approval takes one of {modes}.", "error"))
                return
            self._set_mode(argument)
            await self.view.add(Note(f"Approval mode: {argument}"))
        elif name in MORE:
            await self._more(name, argument)
        elif name not in ("clear", "compact", "undo", "diff", "cost"):
            await self.view.add(Note(f"There is no command /{name}; /help lists them.", "error"))
        elif conversation is None:
            await self.view.add(Note("Shipmate is still starting; try again in a moment."))
        elif name == "cost":
            await self.view.add(Note(cost(conversation)))
        elif self.busy:
            await self.view.add(Note(f"/{name} waits for the agent: Esc stops it.", "error"))
        elif name == "clear":
            await self._clear()
        elif name == "compact":
            self._run(self._consume(conversation.compact()))
        elif name == "undo":
            await self._undo(conversation)
        elif name == "diff":
            from agent.tui.widgets.diff_view import DiffView

            diff = conversation.diff()  # the store is bound to this thread
            if diff.strip():
                await self.view.add(DiffView(diff))
            else:
                await self.view.add(Note("The agent changed nothing in this session."))

    async def _more(self, name: str, argument: str) -> None:
        """/model, /commit, /test, /map, /sessions, /resume: each backed by the core."""
        conversation = self.conversation
        if conversation is None:
            await self.view.add(Note("Shipmate is still starting; try again in a moment."))
        elif name == "model" and not argument:
            await self.view.add(Note(f"Model: {conversation.llm.model}"))
        elif self.busy:
            await self.view.add(Note(f"/{name} waits for the agent: Esc stops it.", "error"))
        elif name == "model":
            await self._model(conversation, argument)
        elif name == "commit":
            self._run(self._consume(conversation.commit_now(argument)))
        elif name == "test":
            await self._test(conversation, argument)
        elif name == "map":
            await self._map(conversation, argument)
        elif name == "sessions":
            from agent.tui.screens.sessions import SessionsScreen

            sessions = self.parts["store"].summaries(self.launch.workspace)
            screen = SessionsScreen(sessions, conversation.session_id)
            self.push_screen(screen, self._chosen)
        elif not argument:
            await self.view.add(
                Note("/resume takes a session's id; /sessions lists them.", "error")
            )
        else:
            await self._resume(argument)

    async def _prompt(self, text: str) -> None:
        """``/mcp__SERVER__PROMPT args``: the server's prompt, sent as the user's message."""
        from agent.mcp.prompts import PromptProblem, run_prompt

        assert self.conversation is not None
        try:
            message = await run_prompt(self.conversation.mcp, text.strip())
        except PromptProblem as problem:
            await self.view.add(Note(str(problem), "error"))
            return
        line = await self.view.add(UserLine(message, queued=True))
        assert isinstance(line, UserLine)
        self.queue.append((message, line))
        self._next()

    async def _model(self, conversation: Conversation, name: str) -> None:
        from agent.config import ConfigError
        from agent.llm import LLM

        settings = conversation.settings.model_copy(update={"model": name})
        try:
            llm = await asyncio.to_thread(LLM.from_settings, settings)
        except ConfigError as error:
            await self.view.add(Note(str(error), "error"))
            return
        conversation.use_model(llm)
        self.parts["llm"] = llm  # /clear goes on with it too
        self.status.model = llm.model
        await self.view.add(Note(f"Model: {llm.model} from the next message."))

    async def _test(self, conversation: Conversation, target: str) -> None:
        from pydantic import ValidationError

        from tools.tests import RunTests

        try:
            tool = RunTests(target=target or None)
        except ValidationError:
            await self.view.add(Note("/test takes a test file, folder or id.", "error"))
            return
        self._run(self._consume(conversation.run_for_user(tool, tell=True)))

    async def _map(self, conversation: Conversation, query: str) -> None:
        from agent.tui.widgets.output_block import OutputBlock
        from tools.base import ToolError

        try:
            text = await conversation.repo_map(query)
        except ToolError as error:
            await self.view.add(Note(str(error), "error"))
            return
        title = f"repo map for {query!r}" if query else "repo map"
        await self.view.add(OutputBlock(title, text or "(nothing indexed)"))

    async def _shell(self, command: str) -> None:
        """``!cmd``: run by the user, checked and sandboxed as the model's commands are;
        its output goes to the model with the next message."""
        from tools.shell import RunCommand

        if self.conversation is None:
            await self.view.add(Note("Shipmate is still starting; try again in a moment."))
        elif self.busy:
            await self.view.add(Note("!command waits for the agent: Esc stops it.", "error"))
        else:
            tool = RunCommand(command=command)
            self._run(self._consume(self.conversation.run_for_user(tool, tell=True)))

    async def _chosen(self, session_id: str | None) -> None:
        if session_id is not None and self.conversation is not None:
            if session_id == self.conversation.session_id:
                await self.view.add(Note("That is this session."))
            elif self.busy:
                await self.view.add(Note("/resume waits for the agent: Esc stops it.", "error"))
            else:
                await self._resume(session_id)

    async def _resume(self, ref: str) -> None:
        """Another stored session, in place: its conversation restored on screen."""
        from agent.conversation import Conversation
        from agent.session import SessionError

        store = self.parts["store"]
        try:
            session = store.to_resume(self.launch.workspace, ref)
        except SessionError as error:
            await self.view.add(Note(str(error), "error"))
            return
        await self.view.clear()
        self.blocks.clear()
        self.commits, self.last_tests = [], ""
        self.status.context_tokens = 0
        self.status.context_percent = 0.0
        mcp = self.conversation.mcp if self.conversation is not None else None
        conversation = Conversation.resume(session, mcp=mcp, **self.parts)  # servers go on
        await self._replay(session.id, store.events(session.id))
        self._wire(conversation)
        self.conversation = conversation
        await self._git_state()

    async def _clear(self) -> None:
        from agent.conversation import Conversation

        await self.view.clear()
        self.blocks.clear()
        self.commits, self.last_tests = [], ""
        mcp = self.conversation.mcp if self.conversation is not None else None
        self.conversation = Conversation(mcp=mcp, **self.parts)  # its MCP servers go on
        self._wire(self.conversation)
        self.status.uncommitted = 0
        self.status.context_tokens = 0
        self.status.context_percent = 0.0
        await self.view.add(Note("A new conversation: the model remembers nothing of before."))

    async def _undo(self, conversation: Conversation) -> None:
        from agent.vcs.undo import UndoError

        try:
            done = await conversation.undo()
        except UndoError as error:
            await self.view.add(Note(str(error), "error"))
            return
        lines = [f"Undid turn {done.turn} ({done.request!r})."]
        if done.restored:
            lines.append(f"Restored: {', '.join(done.restored)}")
        if done.removed:
            lines.append(f"Removed: {', '.join(done.removed)}")
        if done.kept:
            lines.append(f"Kept (changed since): {', '.join(done.kept)}")
        if done.commits:
            lines.append(f"Commits: {done.commits}")
        lines.append(f"{done.remaining} more turn(s) can be undone; the model is told.")
        await self.view.add(Note("\n".join(lines)))
        await self._git_state()

    def summary(self) -> str:
        """Printed into the terminal's scrollback when the app is left: what the session did
        and the command that goes on with it."""
        from agent.session import short_id

        conversation = self.conversation
        if conversation is None or not conversation.messages:
            return ""
        session = short_id(conversation.session_id)
        parts = [f"shipmate: session {session}"]
        if files := conversation.checkpoints.changed():
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            parts.append(f"{len(files)} file(s) changed ({shown})")
        checkpoints = self.parts["store"].checkpoints(conversation.session_id)
        undone = {commit for turn in checkpoints if turn.undone for commit in turn.commits}
        if commits := [commit for commit in self.commits if commit not in undone]:
            parts.append(f"{len(commits)} commit(s) ({', '.join(c[:7] for c in commits)})")
        if self.last_tests:
            parts.append(f"tests: {self.last_tests}")
        parts.append(f"${conversation.session_usage.cost_usd:.4f}")
        said = clean(" · ".join(parts))  # file names and test output are untrusted
        return f"{said}\nresume with: shipmate --resume {session}"


def is_prompt(text: str) -> bool:
    """``/mcp__…``: an MCP server's prompt (asked once the core is loaded)."""
    from agent.mcp.prompts import is_prompt_command

    return is_prompt_command(text.strip())


def terminal_theme(colorfgbg: str) -> str:
    """Light when the terminal says its background is (``COLORFGBG``, set by rxvt, Konsole,
    iTerm2 and others: ``fg;bg`` with bg 7 or 15 white), else dark."""
    background = colorfgbg.rsplit(";", 1)[-1]
    return "textual-light" if background in ("7", "15") else "textual-dark"


def current_branch(workspace: Path) -> str:
    from agent.vcs import git

    repository = git.repository(workspace)
    return (repository.branch() or "") if repository is not None else ""


def sandbox_state(sandbox: Sandbox, settings: Settings) -> str:
    if sandbox.active:
        return "sandbox on"
    return "sandbox off" if settings.dangerously_no_sandbox else "no sandbox"


def auto_test_block(run: TestsFinished) -> ToolBlock:
    """An auto-test run (no tool call of the model's): a finished block like run_tests'."""
    from agent.events import ToolFinished

    failed = bool(run.failures) or run.exit_code not in (0, None) or run.timed_out
    what = "auto-test before the agent's edits" if run.baseline else "auto-test"
    block = ToolBlock("", "run_tests", "execute", f"{what}: {run.command}")
    block.finish(
        ToolFinished(call_id="", name="run_tests", status="error" if failed else "ok", summary="")
    )
    block.elapsed = run.seconds
    block.add_tests(run)
    return block


def compacted(event: Compacted) -> str:
    if event.tokens_after >= event.tokens_before and not event.messages_summarised:
        return "── nothing to compact ──"
    return f"── conversation compacted: {event.tokens_before:,} → {event.tokens_after:,} tokens ──"


def finished(result: Result) -> str:
    parts = [f"{result.turns} model call(s)", f"${result.cost_usd:.4f}"]
    if result.files_changed:
        parts.append(f"{len(result.files_changed)} file(s) changed")
    parts.append(seconds(result.duration_ms / 1000))
    if result.status != "success":
        parts.insert(0, result.status.replace("_", " "))
    return "— " + " · ".join(parts)


def cost(conversation: Conversation) -> str:
    usage = conversation.session_usage
    return (
        f"This session: {usage.input_tokens:,} tokens in ({usage.cached_tokens:,} cached), "
        f"{usage.output_tokens:,} out · ${usage.cost_usd:.4f}"
    )


def run_app(launch: Launch) -> int:
    """Run the app until the person leaves; then say how to come back."""
    app = ShipmateApp(launch)
    summary = ""
    try:
        app.run()
        summary = app.summary()  # reads the session store: before it closes
    finally:
        store = app.parts.get("store")
        if store is not None:
            store.close()
    if summary:
        print(summary)
    return 0
