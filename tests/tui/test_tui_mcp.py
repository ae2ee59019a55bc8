"""MCP servers in the app: they stop with it, their prompts are commands, their resources
attach with @, and a repository's servers ask for trust."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from conftest import idle, make_app, running, say, until

from agent.mcp.config import McpServer, McpSettings

from scripted_llm import Reply, ScriptedLLM

DEMO = Path(__file__).parents[1] / "mcp" / "demo_server.py"


def demo(pid_file: Path) -> McpSettings:
    server = McpServer(
        command=sys.executable, args=[str(DEMO)], env={"DEMO_PID_FILE": str(pid_file)}
    )
    return McpSettings(servers={"demo": server})


def pids(pid_file: Path) -> list[int]:
    return [int(line) for line in pid_file.read_text().split()] if pid_file.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_the_servers_keep_running_through_clear_and_stop_with_the_app(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "demo.pid"
    llm.add(Reply(text="Hello."))
    app = make_app(llm, repo, mcp=demo(pid_file))
    async with running(app) as pilot:
        await say(pilot, "hi")
        await idle(pilot)
        (pid,) = pids(pid_file)
        first = app.conversation
        await say(pilot, "/clear")
        await until(pilot, lambda: app.conversation is not first)
        assert app.conversation is not None and app.conversation.mcp is first.mcp  # type: ignore[union-attr]
        assert alive(pid) and pids(pid_file) == [pid]
    assert not alive(pid)
