"""``shipmate acp`` driven as an editor drives it: a subprocess, the SDK's client side over
real stdio, the scripted model server behind it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import acp
import pytest
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AllowedOutcome,
    ClientCapabilities,
    DeniedOutcome,
    FileEditToolCallContent,
    FileSystemCapabilities,
    Implementation,
    ReadTextFileResponse,
    RequestPermissionResponse,
    ToolCallProgress,
    ToolCallStart,
    UsageUpdate,
    UserMessageChunk,
    WriteTextFileResponse,
)
from acp.transports import spawn_stdio_transport

from helpers import REPO_ROOT, alive, git
from scripted_llm import Fault, Reply, ScriptedLLM, tool


class Editor:
    """The client side: records updates, answers permissions from a script, and holds
    buffers (unsaved text by path) when it serves files."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.updates: list[Any] = []
        self.asked: list[Any] = []
        self.answers = list(answers or [])
        self.buffers: dict[str, str] = {}
        self.reads: list[str] = []
        self.writes: list[tuple[str, str]] = []

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append(update)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> RequestPermissionResponse:
        self.asked.append((tool_call, options))
        if not self.answers:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        chosen = self.answers.pop(0)
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=chosen)
        )

    async def read_text_file(self, session_id: str, path: str, **kwargs: Any) -> Any:
        self.reads.append(path)
        text = self.buffers.get(path)
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        return ReadTextFileResponse(content=text)

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> Any:
        self.writes.append((path, content))
        self.buffers[path] = content
        return WriteTextFileResponse()

    def of(self, kind: type) -> list[Any]:
        return [update for update in self.updates if isinstance(update, kind)]

    def text(self) -> str:
        return "".join(u.content.text for u in self.of(AgentMessageChunk))


class Agent:
    """A running ``shipmate acp``: the connection, every line it wrote on stdout, its stderr."""

    def __init__(self, conn: Any, lines: list[bytes], stderr: Path) -> None:
        self.conn = conn
        self.lines = lines
        self.stderr = stderr

    async def start(self, workspace: Path, fs: bool = False) -> str:
        """initialize, then a new session in ``workspace``; its id."""
        capabilities = ClientCapabilities(
            fs=FileSystemCapabilities(read_text_file=fs, write_text_file=fs)
        )
        await self.conn.initialize(
            protocol_version=acp.PROTOCOL_VERSION,
            client_capabilities=capabilities,
            client_info=Implementation(name="test-editor", version="1"),
        )
        session = await self.conn.new_session(cwd=str(workspace), mcp_servers=[])
        return session.session_id

    async def say(self, session_id: str, text: str) -> Any:
        return await self.conn.prompt(session_id=session_id, prompt=[acp.text_block(text)])


@contextlib.asynccontextmanager
async def shipmate_acp(
    editor: Editor, llm: ScriptedLLM, cwd: Path, *flags: str
) -> AsyncIterator[Agent]:
    """``shipmate acp`` as a subprocess; every byte of its stdout is kept, to check it was
    all protocol."""
    stderr = cwd.parent / f"acp-stderr-{len(list(cwd.parent.glob('acp-stderr-*')))}.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OPENAI_API_KEY": "k",
    }
    argv = ["-m", "agent", "acp", "--model", "openai/scripted", "--api-base", llm.url, *flags]
    with stderr.open("wb") as log:
        async with spawn_stdio_transport(
            sys.executable, *argv, env=env, cwd=cwd, stderr=log.fileno()
        ) as (reader, writer, _process):
            lines: list[bytes] = []
            tee = asyncio.StreamReader(limit=50 * 1024 * 1024)

            async def copy() -> None:
                while line := await reader.readline():
                    lines.append(line)
                    tee.feed_data(line)
                tee.feed_eof()

            copying = asyncio.create_task(copy())
            conn = acp.connect_to_agent(editor, writer, tee)
            try:
                yield Agent(conn, lines, stderr)
            finally:
                await conn.close()
                copying.cancel()
    assert "Traceback" not in stderr.read_text(), stderr.read_text()


def only_protocol(lines: list[bytes]) -> None:
    assert lines
    for line in lines:
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0", line


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text("def greet():\n    return 'hi'\n\n\nNAME = 'x'\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


async def test_a_session_streams_text_reads_edits_and_plans_then_loads_again(
    llm: ScriptedLLM, project: Path
) -> None:
    llm.add(
        Reply(
            calls=[
                tool(
                    "update_plan",
                    items=[
                        {"step": "Read app.py", "status": "in_progress"},
                        {"step": "Make it polite"},
                    ],
                )
            ]
        ),
        Reply(calls=[tool("read_file", path="app.py")]),
        Reply(calls=[tool("edit_file", path="app.py", old_text="'hi'", new_text="'hello'")]),
        Reply(text="Done: greet() now says hello, politely.", chunk=4),
    )
    editor = Editor(answers=["allow"])
    async with shipmate_acp(editor, llm, project) as shipmate:
        init = await shipmate.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        assert init.protocol_version == acp.PROTOCOL_VERSION
        assert init.agent_info is not None and init.agent_info.name == "shipmate"
        assert init.agent_capabilities.load_session
        session = await shipmate.conn.new_session(cwd=str(project / "."), mcp_servers=[])
        assert session.modes.current_mode_id == "ask"
        assert [m.id for m in session.modes.available_modes] == [
            "read-only",
            "ask",
            "auto-edit",
            "full-auto",
        ]
        assert session.config_options[0].current_value == "openai/scripted"
        answer = await shipmate.say(session.session_id, "make greet polite")
        lines = list(shipmate.lines)

    assert answer.stop_reason == "end_turn"
    only_protocol(lines)
    chunks = editor.of(AgentMessageChunk)
    assert len(chunks) > 1  # streamed, not sent whole
    assert editor.text() == "Done: greet() now says hello, politely."
    plan = editor.of(AgentPlanUpdate)[0]
    assert [(e.content, e.status) for e in plan.entries] == [
        ("Read app.py", "in_progress"),
        ("Make it polite", "pending"),
    ]
    started = {u.tool_call_id: u for u in editor.of(ToolCallStart)}
    assert [u.kind for u in started.values()] == ["think", "read", "edit"]
    read, edit = list(started.values())[1:]
    assert read.title == "read app.py"
    assert read.locations[0].path == str(project / "app.py")
    finished = {u.tool_call_id: u for u in editor.of(ToolCallProgress)}
    assert finished[read.tool_call_id].status == "completed"
    assert "return 'hi'" in finished[read.tool_call_id].content[0].content.text
    done = finished[edit.tool_call_id]
    assert done.status == "completed"
    diff = done.content[0]
    assert isinstance(diff, FileEditToolCallContent)
    assert diff.path == str(project / "app.py")
    assert "return 'hi'" in diff.old_text and "return 'hello'" in diff.new_text
    assert done.locations[0].line == 1
    ((tool_call, options),) = editor.asked
    assert tool_call.title == "edit app.py" and tool_call.kind == "edit"
    assert {o.kind for o in options} >= {"allow_once", "reject_once"}
    assert (project / "app.py").read_text().splitlines()[1] == "    return 'hello'"
    usage = editor.of(UsageUpdate)
    assert usage and usage[-1].used > 0 and usage[-1].size > 0
    assert answer.usage is not None and answer.usage.output_tokens > 0

    # An editor started again loads the session: the conversation comes back as updates.
    again = Editor()
    async with shipmate_acp(again, llm, project) as shipmate:
        await shipmate.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        loaded = await shipmate.conn.load_session(
            cwd=str(project), session_id=session.session_id, mcp_servers=[]
        )
        assert loaded.modes.current_mode_id == "ask"
    said = [u.content.text for u in again.of(UserMessageChunk)]
    assert said == ["make greet polite"]
    assert again.text() == "Done: greet() now says hello, politely."
    assert [u.kind for u in again.of(ToolCallStart)] == ["think", "read", "edit"]
    assert isinstance(again.of(ToolCallProgress)[-1].content[0], FileEditToolCallContent)
    assert again.of(AgentPlanUpdate)


async def test_commands_are_asked_allowed_then_rejected_always_modes_switch_and_cancel_stops(
    llm: ScriptedLLM, project: Path
) -> None:
    """One process for two sessions (each start costs seconds of litellm's import): commands
    and modes in the first; in the second, a cancel stops the turn at once and the session
    goes on."""
    from agent.policy.rules import rules_path

    llm.add(
        Reply(calls=[tool("run_command", command="touch made.txt")]),
        Reply(calls=[tool("run_command", command="touch other.txt")]),
        Reply(calls=[tool("run_command", command="touch other.txt")]),
        Reply(text="One made, the other refused."),
        Reply(calls=[tool("edit_file", path="app.py", old_text="'hi'", new_text="'yo'")]),
        Reply(text="Read-only, so no edit."),
        Fault("stall", seconds=60),
        Reply(text="Still here."),
    )
    editor = Editor(answers=["allow", "reject-always"])
    async with shipmate_acp(editor, llm, project) as shipmate:
        session_id = await shipmate.start(project)
        answer = await shipmate.say(session_id, "make two files")
        assert answer.stop_reason == "end_turn"
        asked = len(editor.asked)
        await shipmate.conn.set_session_mode(session_id=session_id, mode_id="read-only")
        await shipmate.say(session_id, "now edit app.py")

        session_id = (await shipmate.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        before = len(llm.requests)
        turn = asyncio.create_task(shipmate.say(session_id, "take your time"))
        for _ in range(600):
            if len(llm.requests) > before:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        sent = asyncio.get_running_loop().time()
        await shipmate.conn.cancel(session_id=session_id)
        answer = await asyncio.wait_for(turn, 10)
        assert asyncio.get_running_loop().time() - sent < 3
        assert answer.stop_reason == "cancelled"
        again = await shipmate.say(session_id, "are you there?")
        assert again.stop_reason == "end_turn"
        lines = list(shipmate.lines)
    assert editor.text().endswith("Still here.")

    only_protocol(lines)
    assert asked == 2  # the third call met the deny rule: nobody was asked
    assert len(editor.asked) == 2  # read-only refuses the edit without asking
    (first, options), (second, _) = editor.asked
    assert first.kind == "execute" and first.title == "$ touch made.txt"
    assert second.title == "$ touch other.txt"
    kinds = ["allow_once", "allow_always", "reject_once", "reject_always"]
    assert [o.kind for o in options] == kinds
    assert (project / "made.txt").exists() and not (project / "other.txt").exists()
    finished = [u for u in editor.of(ToolCallProgress) if u.status]
    assert [u.status for u in finished] == ["completed", "failed", "failed", "failed"]
    assert finished[2].content[0].content.text.startswith("Refused by the rule 'deny command")
    saved = json.loads(rules_path(project).read_text())["rules"]
    assert [(r["action"], r["tool"]) for r in saved] == [("deny", "command")]
    assert "touch" in saved[0]["pattern"]
    assert "read-only" in finished[3].content[0].content.text.lower()
    assert (project / "app.py").read_text().count("'hi'") == 1


async def test_files_go_through_the_editor_with_the_same_confinement(
    llm: ScriptedLLM, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("private\n")
    (project / "link.txt").symlink_to(outside)
    (project / ".env").write_text("TOKEN=secret\n")
    app = project / "app.py"
    editor = Editor(answers=["reject"])
    editor.buffers[str(app)] = "def greet():\n    return 'unsaved'\n"
    llm.add(
        Reply(calls=[tool("read_file", path="app.py")]),
        Reply(calls=[tool("edit_file", path="app.py", old_text="'unsaved'", new_text="'saved'")]),
        Reply(calls=[tool("read_file", path="../outside.txt")]),
        Reply(calls=[tool("read_file", path="link.txt")]),
        Reply(calls=[tool("write_file", path=str(outside), content="pwned\n")]),
        Reply(calls=[tool("read_file", path=".env")]),
        Reply(text="Edited the buffer."),
    )
    async with shipmate_acp(editor, llm, project, "--approval", "auto-edit") as shipmate:
        session_id = await shipmate.start(project, fs=True)
        answer = await shipmate.say(session_id, "fix greet")
        lines = list(shipmate.lines)

    assert answer.stop_reason == "end_turn"
    only_protocol(lines)
    seen = next(m["content"] for m in llm.requests[1]["messages"] if m["role"] == "tool")
    assert "return 'unsaved'" in seen  # the unsaved buffer, not the disk
    assert editor.writes == [(str(app), "def greet():\n    return 'saved'\n")]
    assert app.read_text().count("'hi'") == 1  # the editor holds the edit; it saves it
    assert editor.reads == [str(app), str(app)]  # nothing outside, no secret was asked for
    assert outside.read_text() == "private\n"
    results = [u for u in editor.of(ToolCallProgress) if u.status]
    assert [u.status for u in results] == ["completed", "completed"] + ["failed"] * 4
    assert "outside the workspace" in results[2].content[0].content.text
    assert "outside the workspace" in results[3].content[0].content.text
    assert "outside the workspace" in results[4].content[0].content.text
    ((secret, _),) = editor.asked
    assert secret.title == "read .env"


async def test_the_editors_mcp_server_runs_its_prompt_and_tools_and_stops_when_the_editor_leaves(
    llm: ScriptedLLM, project: Path, tmp_path: Path
) -> None:
    from acp.schema import AvailableCommandsUpdate, EnvVariable, McpServerStdio

    pid_file = tmp_path / "demo.pid"
    demo = McpServerStdio(
        name="demo",
        command=sys.executable,
        args=[str(REPO_ROOT / "tests" / "mcp" / "demo_server.py")],
        env=[EnvVariable(name="DEMO_PID_FILE", value=str(pid_file))],
    )
    badly_named = demo.model_copy(update={"name": "two words"})
    llm.add(
        Reply(calls=[tool("mcp__demo__get_issue", number=7)]),
        Reply(calls=[tool("mcp__demo__create_note", text="Safari")]),
        Reply(text="Reviewed."),
    )
    editor = Editor(answers=["allow"])
    async with shipmate_acp(editor, llm, project) as shipmate:
        await shipmate.start(project)
        new = await shipmate.conn.new_session(cwd=str(project), mcp_servers=[demo, badly_named])
        session_id = new.session_id
        for _ in range(600):
            if editor.of(AvailableCommandsUpdate):
                break
            await asyncio.sleep(0.05)
        (advertised,) = editor.of(AvailableCommandsUpdate)
        (review,) = advertised.available_commands
        assert review.name == "mcp__demo__review"
        assert review.description == "Ask for a careful review."
        assert review.input.root.hint == "<topic>"

        missing = await shipmate.say(session_id, "/mcp__demo__review")
        assert missing.stop_reason == "end_turn" and len(llm.requests) == 0
        assert "/mcp__demo__review <topic>: give the topic." in editor.text()
        answer = await shipmate.say(session_id, "/mcp__demo__review the export code")
        assert answer.stop_reason == "end_turn"
        (pid,) = [int(line) for line in pid_file.read_text().split()]
        assert alive(pid)
    assert not alive(pid)  # stopped as the editor left

    sent = llm.requests[0]["messages"][-1]["content"]
    assert "Please review the export code carefully, and list the risks first." in str(sent)
    assert "mcp__demo__get_issue" in [t["function"]["name"] for t in llm.requests[0]["tools"]]
    started = editor.of(ToolCallStart)
    assert [(s.kind, s.title) for s in started] == [
        ("read", "demo › get_issue number=7"),
        ("execute", "demo › create_note text=Safari"),
    ]
    assert len(editor.asked) == 1  # the read-only tool ran unasked, the other asked
    finished = [u for u in editor.of(ToolCallProgress) if u.status]
    assert [u.status for u in finished] == ["completed", "completed"]
    assert "export button does nothing on Safari" in finished[0].content[0].content.text
    log = shipmate.stderr.read_text()
    assert "'two words'" in log and "left out" in log
