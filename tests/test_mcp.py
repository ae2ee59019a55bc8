"""MCP servers in a session, end to end: a real server (the SDK's, in its own process, over
stdio or streamable HTTP), the scripted model calling its tools through litellm, and the
permission policy, rules and notices as a user meets them. Tests that only need a server's
tools to call share one over streamable HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.conversation import Conversation
from agent.events import Event, SessionStarted, ToolFinished, ToolStarted
from agent.mcp.config import McpServer, McpSettings
from agent.policy.approval import ApprovalRequest, Decision
from agent.policy.rules import Rule

from helpers import MCP_DEMO, alive, make_agent
from scripted_llm import Reply, ScriptedLLM, tool

DEMO = MCP_DEMO


def demo(*flags: str, **settings: Any) -> McpServer:
    return McpServer(command=sys.executable, args=[str(DEMO), *flags], **settings)


@pytest.fixture(scope="module")
def shared() -> Iterator[str]:
    """One demo server over streamable HTTP for the tests that only need its tools to call
    (each server start costs the SDK's import, ~1.5 s of CPU); its URL."""
    with demo_over("http") as url:
        yield url


def remote(url: str, **settings: Any) -> McpServer:
    return McpServer(url=url, transport="http", **settings)


def read_execute_destructive() -> list[Any]:
    """One call of each kind: a read-only tool, a tool that changes things, a destructive one."""
    return [
        tool("mcp__demo__get_issue", number=1),
        tool("mcp__demo__create_note", text="x"),
        tool("mcp__demo__delete_repo", repo="r"),
    ]


class Asked:
    """An approver that answers every question with ``allow`` and keeps the questions."""

    def __init__(self, allow: bool = True) -> None:
        self.allow = allow
        self.requests: list[ApprovalRequest] = []

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        return Decision(allow=self.allow, message="" if self.allow else "No.")


@asynccontextmanager
async def session(
    llm: ScriptedLLM, repo: Path, servers: dict[str, McpServer], **kwargs: Any
) -> AsyncIterator[Conversation]:
    kwargs.setdefault("mcp_startup_timeout", 60)  # a loaded machine starts servers slowly
    conversation = make_agent(llm, repo, mcp=McpSettings(servers=servers), **kwargs)
    try:
        yield conversation
    finally:
        await conversation.close()


async def turn(conversation: Conversation, text: str = "go") -> list[Event]:
    return [event async for event in conversation.send(text)]


def finished(events: list[Event]) -> dict[str, ToolFinished]:
    return {e.call_id: e for e in events if isinstance(e, ToolFinished)}


def outputs(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.name, e.status, e.output) for e in events if isinstance(e, ToolFinished)]


async def test_the_model_calls_a_servers_tools_and_sees_their_results(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(
        Reply(calls=[tool("mcp__demo__get_issue", number=7), tool("mcp__demo__odd", when="x")]),
        Reply(text="Issue 7 is about Safari."),
    )
    approver = Asked()
    async with session(llm, repo, {"demo": demo()}, approval="ask", approver=approver) as chat:
        events = await turn(chat, "what is issue 7 about?")
    started = next(e for e in events if isinstance(e, SessionStarted))
    assert "mcp__demo__get_issue" in started.tools and "mcp__demo__broken" not in started.tools
    assert any("'broken' is left out" in notice for notice in started.notices)
    sent = {spec["function"]["name"]: spec["function"] for spec in llm.requests[0]["tools"]}
    assert next(iter(sent)) == "read_file"  # the built-in tools first, the servers' after
    issue = sent["mcp__demo__get_issue"]
    assert issue["description"] == "(MCP server demo) Fetch an issue of the tracker by its number."
    assert issue["parameters"]["properties"]["number"]["type"] == "integer"
    # An odd type is loosened and an array gets its items; providers reject both as sent.
    assert sent["mcp__demo__odd"]["parameters"]["properties"] == {
        "when": {},
        "tags": {"type": "array", "items": {}},
    }
    assert "$schema" not in sent["mcp__demo__odd"]["parameters"]
    tools_started = [e for e in events if isinstance(e, ToolStarted)]
    assert [(e.kind, e.server, e.summary) for e in tools_started] == [
        ("read", "demo", "demo › get_issue number=7"),
        ("read", "demo", "demo › odd when=x"),
    ]
    results = outputs(events)
    assert results[0] == (
        "mcp__demo__get_issue",
        "ok",
        "Issue #7: the export button does nothing on Safari.",
    )
    assert results[1][1] == "ok" and results[1][2].startswith("odd x")
    assert approver.requests == []  # read-only tools (by the server's hints) never ask
    answer = next(m for m in llm.requests[1]["messages"] if m["role"] == "tool")
    assert answer["content"] == "Issue #7: the export button does nothing on Safari."


async def test_tools_that_change_things_ask_and_destructive_ones_ask_even_in_auto_edit(
    llm: ScriptedLLM, repo: Path, shared: str
) -> None:
    calls = [tool("mcp__demo__create_note", text="hi"), tool("mcp__demo__delete_repo", repo="r")]
    llm.add(Reply(calls=calls), Reply(text="asked"))
    llm.add(Reply(calls=calls), Reply(text="again"))
    approver = Asked()
    async with session(
        llm, repo, {"demo": remote(shared)}, approval="ask", approver=approver
    ) as chat:
        first = await turn(chat)
        asked = [(r.name, r.kind, r.suggestion) for r in approver.requests]
        assert asked == [
            ("mcp__demo__create_note", "execute", "allow mcp mcp__demo__create_note"),
            ("mcp__demo__delete_repo", "execute", None),  # never offered as "always"
        ]
        assert "marks destructive" in approver.requests[1].reason
        assert [status for _, status, _ in outputs(first)] == ["ok", "ok"]
        chat.set_approval("auto-edit")
        approver.requests.clear()
        await turn(chat)
        assert [r.name for r in approver.requests] == [
            "mcp__demo__create_note",
            "mcp__demo__delete_repo",
        ]


async def test_read_only_mode_full_auto_and_the_servers_approval_setting(
    llm: ScriptedLLM, repo: Path, shared: str
) -> None:
    calls = read_execute_destructive()
    for _ in range(3):
        llm.add(Reply(calls=calls), Reply(text="ok"))
    approver = Asked()
    async with session(
        llm, repo, {"demo": remote(shared)}, approval="read-only", approver=approver
    ) as chat:
        events = await turn(chat)
        assert [status for _, status, _ in outputs(events)] == ["ok", "denied", "denied"]
        chat.set_approval("full-auto")
        events = await turn(chat)
        assert [status for _, status, _ in outputs(events)] == ["ok", "ok", "ok"]
        assert approver.requests == []
    # Even read-only tools ask, in full-auto too.
    servers = {"demo": remote(shared, approval="ask")}
    async with session(llm, repo, servers, approval="full-auto", approver=approver) as chat:
        await turn(chat)
    assert [r.name for r in approver.requests] == [
        "mcp__demo__get_issue",
        "mcp__demo__create_note",
    ]  # the destructive one is full-auto's to allow


async def test_rules_allow_and_deny_a_servers_tools_by_name(
    llm: ScriptedLLM, repo: Path, shared: str
) -> None:
    calls = read_execute_destructive()
    llm.add(Reply(calls=calls), Reply(text="ok"))
    approver = Asked()
    async with session(
        llm, repo, {"demo": remote(shared)}, approval="ask", approver=approver
    ) as chat:
        chat.permissions.rules.add(Rule(action="allow", tool="mcp", pattern="mcp__demo__*"))
        chat.permissions.rules.add(Rule(action="deny", tool="mcp", pattern="mcp__demo__get_*"))
        events = await turn(chat)
    results = [e for e in events if isinstance(e, ToolFinished)]
    assert [(e.status, e.rule) for e in results] == [
        ("denied", "deny mcp mcp__demo__get_*"),
        ("ok", None),
        ("ok", None),
    ]
    assert [r.name for r in approver.requests] == ["mcp__demo__delete_repo"]  # still asks


async def test_allow_always_saves_a_rule_for_that_tool(
    llm: ScriptedLLM, repo: Path, shared: str
) -> None:
    class Always(Asked):
        async def decide(self, request: ApprovalRequest) -> Decision:
            self.requests.append(request)
            return Decision(allow=True, remember=True)

    call = tool("mcp__demo__create_note", text="x")
    llm.add(Reply(calls=[call]), Reply(calls=[call]), Reply(text="ok"))
    approver = Always()
    async with session(
        llm, repo, {"demo": remote(shared)}, approval="ask", approver=approver
    ) as chat:
        events = await turn(chat)
        saved = [rule.describe() for rule in chat.permissions.rules.rules]
    assert saved == ["allow mcp mcp__demo__create_note"]
    assert len(approver.requests) == 1 and [s for _, s, _ in outputs(events)] == ["ok", "ok"]


async def test_bad_arguments_go_back_to_the_model_as_a_sentence(
    llm: ScriptedLLM, repo: Path, shared: str
) -> None:
    llm.add(Reply(calls=[tool("mcp__demo__get_issue", number="seven")]), Reply(text="ok"))
    async with session(llm, repo, {"demo": remote(shared)}) as chat:
        events = await turn(chat)
    [(_, status, output)] = outputs(events)
    assert status == "error"
    assert (
        output
        == "Error: Invalid arguments for mcp__demo__get_issue: number: 'seven' is not of type "
        "'integer'."
    )


async def test_a_server_that_fails_or_hangs_at_start_is_a_notice_and_the_session_goes_on(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    llm.add(Reply(calls=[tool("mcp__slow__get_issue", number=1)]), Reply(text="fine"))
    pids = tmp_path / "pids"
    servers = {
        "broken": demo("--fail"),
        "slow": demo("--hang", env={"DEMO_PID_FILE": str(pids)}, timeout=30),
    }
    started = time.monotonic()
    async with session(llm, repo, servers, mcp_startup_timeout=8) as chat:
        events = await turn(chat)
    waited = time.monotonic() - started
    begun = next(e for e in events if isinstance(e, SessionStarted))
    notices = "\n".join(begun.notices)
    assert "MCP server 'broken' closed the connection (it exited or crashed)" in notices
    assert "mcp-broken.log" in notices
    assert "MCP server 'slow' is not ready after 8 s; its tools join once it is." in notices
    assert waited < 20, waited
    [(_, status, output)] = outputs(events)
    assert (status, output) == (
        "error",
        "Error: The MCP server 'slow' is starting; try again in a moment.",
    )
    assert events[-1].type == "result" and events[-1].result == "fine"
    log = Path(notices.split("(its log: ")[1].split(")")[0])
    assert "the database is missing" in log.read_text()
    [hung] = [int(line) for line in pids.read_text().split()]
    assert not alive(hung)  # closing the session stopped the server still starting


async def test_a_server_that_never_answers_fails_after_its_timeout(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(text="fine"))
    async with session(llm, repo, {"slow": demo("--hang", timeout=1)}) as chat:
        events = await turn(chat)
        assert chat.mcp.connections["slow"].state == "failed"
    begun = next(e for e in events if isinstance(e, SessionStarted))
    assert any("MCP server 'slow' did not start within 1 s" in n for n in begun.notices)


async def test_a_server_that_crashes_mid_call_is_restarted_once(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(calls=[tool("mcp__demo__crash")]), Reply(text="it crashed"))
    llm.add(Reply(calls=[tool("mcp__demo__get_issue", number=2)]), Reply(text="back"))
    llm.add(Reply(calls=[tool("mcp__demo__crash")]), Reply(text="again"))
    llm.add(Reply(calls=[tool("mcp__demo__get_issue", number=3)]), Reply(text="down"))
    async with session(llm, repo, {"demo": demo()}) as chat:
        [(_, status, output)] = outputs(await turn(chat))
        assert status == "error"
        assert output == (
            "Error: The MCP server 'demo' stopped during crash: Shipmate restarts it once; "
            "try again in a moment."
        )
        connection = chat.mcp.connections["demo"]
        assert await connection.wait(30) or True
        for _ in range(200):
            if connection.state == "ready":
                break
            await asyncio.sleep(0.05)
        [(_, status, output)] = outputs(await turn(chat))
        assert (status, output) == ("ok", "Issue #2: the export button does nothing on Safari.")
        [(_, status, output)] = outputs(await turn(chat))
        assert "it stays down for this session" in output
        for _ in range(200):
            if connection.state == "failed":
                break
            await asyncio.sleep(0.05)
        [(_, status, output)] = outputs(await turn(chat))
        assert status == "error" and "'demo' is not running" in output


async def test_a_huge_result_is_capped_and_kept_whole_in_the_logs(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(calls=[tool("mcp__demo__big")]), Reply(text="ok"))
    async with session(llm, repo, {"demo": demo()}) as chat:
        events = await turn(chat)
        limit = chat.ctx.output_limit
    [(_, status, output)] = outputs(events)
    assert status == "ok" and len(output) < limit + 300
    assert output.startswith("line 0 ") and output.rstrip().endswith("x" * 90)
    saved = Path(output.split("the whole result is in ")[1].split(" …]")[0])
    assert saved.stat().st_size > 5_000_000 and oct(saved.stat().st_mode)[-3:] == "600"
    sent = next(m for m in llm.requests[1]["messages"] if m["role"] == "tool")["content"]
    assert len(sent) < limit + 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def demo_over(transport: str) -> Iterator[str]:
    """The demo server as a remote one (``http`` or ``sse``) in its own process; its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(DEMO), transport, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}{'/mcp' if transport == 'http' else '/sse'}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(params=["http", "sse"])
def http_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with demo_over(request.param) as url:
        yield request.param, url


async def test_a_remote_server_over_streamable_http_or_sse(
    llm: ScriptedLLM, repo: Path, http_server: tuple[str, str]
) -> None:
    transport, url = http_server
    llm.add(Reply(calls=[tool("mcp__web__get_issue", number=5)]), Reply(text="ok"))
    web = McpServer(url=url, headers={"X-Team": "${TEAM_NAME}"}, transport=transport)
    servers = {"web": web}
    os.environ["TEAM_NAME"] = "core"
    try:
        async with session(llm, repo, servers) as chat:
            events = await turn(chat)
    finally:
        del os.environ["TEAM_NAME"]
    [(_, status, output)] = outputs(events)
    assert (status, output) == ("ok", "Issue #5: the export button does nothing on Safari.")


async def test_a_server_gets_no_api_key_only_what_its_settings_name(
    llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-model-key-123456")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-for-the-server")
    monkeypatch.setenv("DATABASE_URL", "postgres://secret")
    env = {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}", "LEAK": "${OPENAI_API_KEY}"}
    calls = [
        tool("mcp__demo__env_report"),
        tool("mcp__demo__getenv", variable="GITHUB_PERSONAL_ACCESS_TOKEN"),
        tool("mcp__demo__getenv", variable="LEAK"),
    ]
    llm.add(Reply(calls=calls), Reply(text="ok"))
    async with session(llm, repo, {"demo": demo(env=env)}, model="openai/gpt-4o") as chat:
        events = await turn(chat)
    begun = next(e for e in events if isinstance(e, SessionStarted))
    results = [output for _, _, output in outputs(events)]
    names = results[0]
    for secret in ("OPENAI_API_KEY", "GITHUB_TOKEN", "DATABASE_URL"):
        assert secret not in names
    assert results[1] == "ghp-for-the-server"
    assert results[2] == "(no output)"  # set, but empty
    assert any("OPENAI_API_KEY in its env" in notice for notice in begun.notices)


async def test_close_stops_every_server_process(
    llm: ScriptedLLM, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    llm.add(Reply(text="hi"))
    servers = {
        "one": demo(env={"DEMO_PID_FILE": str(pids)}),
        "two": demo(env={"DEMO_PID_FILE": str(pids)}),
    }
    async with session(llm, repo, servers) as chat:
        await turn(chat)
        running = [int(line) for line in pids.read_text().split()]
        assert len(running) == 2 and all(map(alive, running))
    assert not any(map(alive, running))


@pytest.mark.parametrize("model", ["openai/gpt-4o", "openai/scripted"])
async def test_images_reach_a_model_that_takes_them(
    llm: ScriptedLLM, repo: Path, model: str, shared: str
) -> None:
    calls = [tool("mcp__demo__screenshot"), tool("mcp__demo__get_issue", number=1)]
    llm.add(Reply(calls=calls), Reply(text="A red pixel."))
    async with session(llm, repo, {"demo": remote(shared)}, model=model) as chat:
        events = await turn(chat)
    shot = outputs(events)[0][2]
    sent = llm.requests[1]["messages"]
    roles = [m["role"] for m in sent]
    if model == "openai/gpt-4o":  # litellm's table: it takes images
        assert shot == "[image: image/png, 69 bytes]"
        # After both results (no user message may come between them), the image itself.
        assert roles[-3:] == ["tool", "tool", "user"]
        text, image = sent[-1]["content"]
        assert text == {"type": "text", "text": "The image(s) mcp__demo__screenshot returned:"}
        assert image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    else:  # unknown to litellm: not shown, and the model is told so
        assert shot == (
            "[image: image/png, 69 bytes]\n"
            "[openai/scripted does not take images, so it is not shown them]"
        )
        assert roles[-2:] == ["tool", "tool"]
