"""The ACP agent: sessions of the conversation core, served to one editor over stdio."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acp import (
    PROTOCOL_VERSION,
    Client,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptResponse,
    RequestError,
    SetSessionModeResponse,
    run_agent,
    stdio_streams,
    update_agent_message_text,
)
from acp.helpers import update_available_commands
from acp.schema import (
    AgentCapabilities,
    AvailableCommand,
    AvailableCommandInput,
    ClientCapabilities,
    Implementation,
    McpCapabilities,
    PromptCapabilities,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
    SessionMode,
    SessionModeState,
    SetSessionConfigOptionResponse,
    UnstructuredCommandInput,
    Usage,
)
from pydantic import TypeAdapter, ValidationError

from agent import __version__
from agent.config import APPROVAL_ORDER, ConfigError, Settings, data_dir, load_settings
from agent.conversation import Conversation
from agent.events import Event, Result
from agent.frontends.acp.approver import EditorApprover
from agent.frontends.acp.client_files import EditorFiles
from agent.frontends.acp.mcp_servers import editor_servers
from agent.frontends.acp.prompt import prompt_text
from agent.frontends.acp.updates import Updates
from agent.mcp.config import Declared
from agent.mcp.prompts import PromptProblem, is_prompt_command, prompt_commands, run_prompt
from agent.session import SessionError, SessionInfo, SessionStore

log = logging.getLogger("shipmate.acp")
MODES = {
    "read-only": "Reads and plans; no edits, no commands.",
    "ask": "Asks before edits and commands.",
    "auto-edit": "Edits without asking; asks before commands.",
    "full-auto": "Edits and runs commands in the sandbox without asking.",
}
STOP_REASONS = {"cancelled": "cancelled", "budget_exceeded": "max_turn_requests"}
CONFIG_ERROR = -32602  # JSON-RPC "invalid params": the message says what to fix


@dataclass
class Session:
    conversation: Conversation
    updates: Updates
    advertising: asyncio.Task[None] | None = None  # the MCP prompts, sent once servers are up


class ShipmateAgent:
    """One editor's connection. ``flags``: the command line's model, api base and approval,
    over the user's and the project's settings, for every session."""

    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = {name: value for name, value in flags.items() if value is not None}
        self.client: Client | None = None
        self.capabilities = ClientCapabilities()
        self.sessions: dict[str, Session] = {}
        self.store = SessionStore(data_dir() / "sessions.db")

    def on_connect(self, conn: Client) -> None:
        self.client = conn

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        self.capabilities = client_capabilities or ClientCapabilities()
        who = f"{client_info.name} {client_info.version}" if client_info else "a client"
        log.info("connected to %s (protocol %s)", who, protocol_version)
        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(embedded_context=True),
                mcp_capabilities=McpCapabilities(http=True, sse=True),
            ),
            agent_info=Implementation(name="shipmate", title="Shipmate", version=__version__),
        )

    async def new_session(
        self, cwd: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> NewSessionResponse:
        session = await self._open(cwd, None, editor_servers(mcp_servers))
        conversation = session.conversation
        return NewSessionResponse(
            session_id=conversation.session_id,
            modes=_modes(conversation),
            config_options=_config(conversation),
        )

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> LoadSessionResponse:
        session = self.sessions.get(session_id) or await self._open(
            cwd, session_id, editor_servers(mcp_servers)
        )
        await self._replay(session)
        return LoadSessionResponse(
            modes=_modes(session.conversation), config_options=_config(session.conversation)
        )

    async def set_session_mode(
        self, session_id: str, mode_id: str, **kwargs: Any
    ) -> SetSessionModeResponse:
        session = self._session(session_id)
        if mode_id not in APPROVAL_ORDER:
            raise RequestError(CONFIG_ERROR, f"There is no mode {mode_id!r}.")
        if warning := session.conversation.set_approval(mode_id):  # type: ignore[arg-type]
            await self._send(session_id, [update_agent_message_text(warning + "\n")])
        return SetSessionModeResponse()

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> SetSessionConfigOptionResponse:
        """The model (the only option): from the next prompt, as the TUI's /model."""
        from agent.llm import LLM

        conversation = self._session(session_id).conversation
        if config_id != "model" or not isinstance(value, str):
            raise RequestError(CONFIG_ERROR, f"There is no option {config_id!r}.")
        settings = conversation.settings.model_copy(update={"model": value})
        try:
            llm = await asyncio.to_thread(LLM.from_settings, settings)
        except ConfigError as error:
            raise RequestError(CONFIG_ERROR, str(error)) from None
        conversation.use_model(llm)
        return SetSessionConfigOptionResponse(config_options=_config(conversation))

    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> PromptResponse:
        session = self._session(session_id)
        conversation = session.conversation
        text = prompt_text(prompt, conversation.ctx.workspace)
        if not text.strip():
            said = "Shipmate takes text, links to files and embedded text; nothing else came."
            await self._send(session_id, [update_agent_message_text(said)])
            return PromptResponse(stop_reason="end_turn")
        if is_prompt_command(text.strip()):  # an MCP server's prompt: its text is the message
            try:
                await conversation.mcp.ready()
                text = await run_prompt(conversation.mcp, text.strip())
            except PromptProblem as problem:
                await self._send(session_id, [update_agent_message_text(str(problem))])
                return PromptResponse(stop_reason="end_turn")
        result: Result | None = None
        try:
            async for event in conversation.send(text):
                await self._send(session_id, session.updates.of(event))
                if isinstance(event, Result):
                    result = event
        except RuntimeError as error:  # a prompt while one runs
            raise RequestError(CONFIG_ERROR, str(error)) from None
        assert result is not None
        used = result.usage
        usage = Usage(
            total_tokens=used.input_tokens + used.output_tokens,
            input_tokens=used.input_tokens,
            output_tokens=used.output_tokens,
            cached_read_tokens=used.cached_tokens,
        )
        return PromptResponse(stop_reason=STOP_REASONS.get(result.status, "end_turn"), usage=usage)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        if session := self.sessions.get(session_id):
            session.conversation.cancel()

    async def close(self) -> None:
        """The editor left: every session stops, and its MCP servers' processes are gone."""
        for session in self.sessions.values():
            if session.advertising is not None:
                session.advertising.cancel()
            session.conversation.cancel()
        await asyncio.gather(*(s.conversation.close() for s in self.sessions.values()))
        self.store.close()

    # Sessions

    def _session(self, session_id: str) -> Session:
        if session := self.sessions.get(session_id):
            return session
        raise RequestError(CONFIG_ERROR, f"There is no session {session_id!r} here; load it first.")

    async def _open(self, cwd: str, session_id: str | None, servers: list[Declared]) -> Session:
        """A new conversation in ``cwd``'s workspace, or the stored ``session_id`` resumed."""
        from agent.cli import find_workspace

        start = Path(cwd)
        if not start.is_absolute() or not start.is_dir():
            raise RequestError(CONFIG_ERROR, f"{cwd} is not a folder; give an absolute path.")
        workspace = find_workspace(start)
        stored: SessionInfo | None = None
        if session_id is not None:
            try:
                stored = self.store.to_resume(workspace, session_id)
            except SessionError as error:
                raise RequestError(CONFIG_ERROR, str(error)) from None
        try:
            parts = await self._parts(workspace)
        except ConfigError as error:
            if stored is not None:
                self.store.release(stored)
            raise RequestError(CONFIG_ERROR, str(error)) from None
        assert self.client is not None
        approver = EditorApprover(self.client, "")
        parts.update(approver=approver, store=self.store, interactive=True, mcp_servers=servers)
        if stored is not None:
            conversation = Conversation.resume(stored, **parts)
        else:
            conversation = Conversation(**parts)
        approver.session_id = conversation.session_id
        files = self.capabilities.fs
        if files is not None and files.read_text_file and files.write_text_file:
            conversation.ctx.files = EditorFiles(self.client, conversation.session_id)
        session = Session(conversation, Updates(conversation.ctx.workspace))
        self.sessions[conversation.session_id] = session
        log.info("session %s in %s", conversation.session_id, workspace)
        if conversation.mcp.connections:
            session.advertising = asyncio.create_task(self._advertise(session))
        return session

    async def _advertise(self, session: Session) -> None:
        """The servers' prompts as the session's commands, sent again as each server comes
        up (after session/new answered; a slow server's join later)."""
        mcp = session.conversation.mcp
        sent: list[AvailableCommand] = []
        waits = [connection.settled.wait() for connection in mcp.connections.values()]
        for settled in asyncio.as_completed(waits):
            await settled
            commands = [
                AvailableCommand(name=c.name, description=c.description, input=_input(c.usage))
                for c in prompt_commands(mcp)
            ]
            if commands != sent:
                sent = commands
                await self._send(
                    session.conversation.session_id, [update_available_commands(commands)]
                )

    async def _parts(self, workspace: Path) -> dict[str, Any]:
        """What a conversation is made of, but the approver and the store; the model check
        waits for litellm's import, so it runs in a thread."""
        from agent.llm import LLM
        from agent.policy.rules import RuleBook
        from agent.policy.sandboxing import sandbox_for

        settings: Settings = load_settings(workspace, self.flags)
        rules = RuleBook(workspace)
        llm = await asyncio.to_thread(LLM.from_settings, settings)
        sandbox = await asyncio.to_thread(sandbox_for, settings, workspace)
        return dict(llm=llm, settings=settings, workspace=workspace, sandbox=sandbox, rules=rules)

    async def _replay(self, session: Session) -> None:
        """The stored conversation, sent again as updates (before load answers)."""
        conversation = session.conversation
        reader: TypeAdapter[Event] = TypeAdapter(Event)
        replayed = Updates(conversation.ctx.workspace)
        for data in self.store.events(conversation.session_id):
            try:
                event = reader.validate_python(data)
            except ValidationError:
                continue  # written by another version
            await self._send(conversation.session_id, replayed.of(event, replay=True))

    async def _send(self, session_id: str, updates: list[Any]) -> None:
        assert self.client is not None
        for update in updates:
            await self.client.session_update(session_id=session_id, update=update)


def _input(usage: str) -> AvailableCommandInput | None:
    """What a command takes after its name, as its usage shows it."""
    hint = usage.partition(" ")[2]
    return AvailableCommandInput(root=UnstructuredCommandInput(hint=hint)) if hint else None


def _modes(conversation: Conversation) -> SessionModeState:
    """Shipmate's approval modes are the session's modes."""
    modes = [
        SessionMode(id=mode, name=mode.replace("-", " ").capitalize(), description=MODES[mode])
        for mode in APPROVAL_ORDER
    ]
    return SessionModeState(current_mode_id=conversation.permissions.mode, available_modes=modes)


def _config(conversation: Conversation) -> list[SessionConfigOptionSelect]:
    """The model choice: the session's model (others are set by name, as ``--model``)."""
    model = conversation.llm.model
    return [
        SessionConfigOptionSelect(
            id="model",
            name="Model",
            category="model",
            type="select",
            current_value=model,
            options=[SessionConfigSelectOption(value=model, name=model)],
        )
    ]


async def serve(agent: ShipmateAgent, protocol: Any) -> None:
    """Run the connection on stdin and ``protocol`` (the real stdout) until the editor
    closes it."""
    sys.stdout = protocol  # the SDK opens its writer on sys.stdout
    try:
        reader, writer = await stdio_streams(limit=50 * 1024 * 1024)
    finally:
        sys.stdout = sys.stderr
    try:
        await run_agent(agent, writer, reader)
    finally:
        await agent.close()


def main(flags: dict[str, Any]) -> int:
    """``shipmate acp``: stdout carries the protocol alone. Its descriptor is kept for the
    connection and descriptor 1 becomes stderr, so nothing else (a library's print, a
    child process) can write a byte into the protocol; logs go to stderr, which editors
    keep in their log."""
    kind = os.fstat(1).st_mode
    if not (stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind) or stat.S_ISCHR(kind)):
        print(
            "shipmate: acp talks to an editor over a pipe; let the editor start it "
            "(see 'Editors (ACP)' in the README).",
            file=sys.stderr,
        )
        return 2
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("shipmate acp: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    agent = ShipmateAgent(flags)
    try:
        asyncio.run(serve(agent, protocol))
    except KeyboardInterrupt:
        return 130
    return 0
