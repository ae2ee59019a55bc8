"""MCP servers in the app: they stop with it, their prompts are commands, their resources
attach with @, and a repository's servers ask for trust."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import idle, make_app, running, say, screen_text, until
from textual.pilot import Pilot

from agent.mcp.config import McpServer, McpSettings
from agent.tui.app import ShipmateApp
from agent.tui.palette import ShipmateCommands
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from helpers import alive
from scripted_llm import Reply, ScriptedLLM, tool

DEMO = Path(__file__).parents[1] / "mcp" / "demo_server.py"


def demo(pid_file: Path) -> McpSettings:
    server = McpServer(
        command=sys.executable, args=[str(DEMO)], env={"DEMO_PID_FILE": str(pid_file)}
    )
    return McpSettings(servers={"demo": server})


def pids(pid_file: Path) -> list[int]:
    return [int(line) for line in pid_file.read_text().split()] if pid_file.exists() else []


async def test_the_servers_keep_running_through_clear_and_stop_with_the_app(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "demo.pid"
    llm.add(Reply(text="Hello."))
    app = make_app(llm, repo, mcp=demo(pid_file))
    async with running(app) as pilot:
        await say(pilot, "hi")
        await idle(pilot)
        await up(pilot, app)
        (pid,) = pids(pid_file)
        first = app.conversation
        await say(pilot, "/clear")
        await until(pilot, lambda: app.conversation is not first)
        assert app.conversation is not None and app.conversation.mcp is first.mcp  # type: ignore[union-attr]
        assert alive(pid) and pids(pid_file) == [pid]
    assert not alive(pid)


async def up(pilot: Pilot[None], app: ShipmateApp) -> None:
    """Wait until the demo server is ready (it starts in seconds on a busy machine)."""
    assert app.conversation is not None
    connection = app.conversation.mcp.connections["demo"]
    await until(pilot, lambda: connection.state == "ready", timeout=60)


async def test_a_servers_prompt_is_a_command_that_sends_its_text(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    llm.add(Reply(text="Risks first: none."))
    app = make_app(llm, repo, mcp=demo(tmp_path / "demo.pid"))
    async with running(app) as pilot:
        await up(pilot, app)
        app.input.insert("/mcp__")
        await until(pilot, lambda: app.completions.open)
        assert app.completions.entries == [("mcp__demo__review", "Ask for a careful review.")]
        await pilot.press("tab")
        assert app.input.text == "/mcp__demo__review "
        await pilot.press("enter")  # no topic
        await until(pilot, lambda: "give the topic" in screen_text(app))
        assert "/mcp__demo__review <topic>: give the topic." in screen_text(app)
        assert not llm.requests
        app.input.insert("/mcp__demo__review the export code")
        await pilot.press("enter")
        await until(pilot, lambda: bool(llm.requests))
        await idle(pilot)
        palette = [text for text, _, _ in ShipmateCommands(app.screen)._entries()]
        assert "/mcp__demo__review" in palette
        assert "Please review the export code carefully" in screen_text(app)
    sent = llm.requests[0]["messages"][-1]["content"]
    assert "Please review the export code carefully, and list the risks first." in str(sent)


async def test_a_resource_named_with_at_is_attached_and_its_tool_block_names_the_server(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    llm.add(
        Reply(calls=[tool("mcp__demo__get_issue", number=7)]),
        Reply(text="Noted."),
    )
    app = make_app(llm, repo, mcp=demo(tmp_path / "demo.pid"))
    async with running(app) as pilot:
        await up(pilot, app)
        app.input.insert("what is on @demo:to")
        await until(pilot, lambda: app.completions.chosen == "demo:notes://today")
        await pilot.press("tab")
        assert app.input.text == "what is on @demo:notes://today "
        await pilot.press("enter")
        await idle(pilot)
        (block,) = app.view.query(ToolBlock)
        assert block.status == "ok" and block.summary == "demo › get_issue number=7"
        (line,) = app.view.query(UserMessage)
        assert line.files == ["demo:notes://today"] and "demo:notes://today" in str(line.render())
    sent = str(llm.requests[0]["messages"][-1]["content"])
    assert (
        '<resource server="demo" uri="notes://today">\nShip the MCP support.\n</resource>' in sent
    )


async def test_a_server_the_repository_declares_is_asked_for_once_then_trusted_and_started(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    from agent.mcp.trust import TrustBook
    from agent.tui.screens.trust import TrustScreen

    pid_file = tmp_path / "demo.pid"
    entry = {
        "command": sys.executable,
        "args": [str(DEMO)],
        "env": {"DEMO_PID_FILE": str(pid_file)},
    }
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"demo": entry}}))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await until(  # pushed, and composed (a busy machine shows the gap)
            pilot,
            lambda: isinstance(app.screen, TrustScreen) and bool(app.screen.query("#not-now")),
        )
        question = str(app.screen.query_one("#trust-question").render())
        assert "'demo'" in question and ".mcp.json" in question and str(DEMO) in question
        assert "outside the sandbox" in question
        assert app.conversation is not None and not app.conversation.mcp.connections
        await pilot.press("t")
        await until(pilot, lambda: not isinstance(app.screen, TrustScreen))
        await up(pilot, app)
        assert "trusted for this project; it starts now" in screen_text(app)
        assert not app.conversation.mcp.waiting
        (pid,) = pids(pid_file)
    assert not alive(pid)
    declared = json.loads((repo / ".mcp.json").read_text())["mcpServers"]["demo"]
    assert TrustBook(repo).trusts("demo", McpServer.model_validate(declared))
