"""The agent loop in-process, with the scripted model over HTTP and real tools on real files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

import pytest

from agent.conversation import Conversation
from agent.events import (
    ApprovalRequested,
    Error,
    IndexReady,
    PlanUpdated,
    Result,
    SessionStarted,
    ToolFinished,
    ToolStarted,
)
from agent.policy.approval import ApprovalRequest, Decision
from tools.base import Tool, ToolContext, ToolResult
from tools.registry import REGISTRY

from helpers import ANSWER, fixing_script, make_agent
from scripted_llm import Call, Fault, Reply, ScriptedLLM, tool


async def run(agent: Conversation, prompt: str = "fix slugify") -> list:
    return [event async for event in agent.send(prompt)]


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def test_a_task_reads_edits_tests_and_finishes(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(*fixing_script())
    agent = make_agent(llm, repo)
    events = await run(agent)

    assert isinstance(events[0], SessionStarted)
    result = events[-1]
    assert isinstance(result, Result)
    assert result.status == "success"
    assert result.result == ANSWER
    assert result.turns == 4
    assert result.usage.input_tokens == 400
    assert result.files_changed == ["textutil.py"]
    assert "unicodedata.normalize" in (repo / "textutil.py").read_text()

    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [e.status for e in finished] == ["ok"] * 5
    assert finished[2].diff and "+import unicodedata" in finished[2].diff
    # The model saw each result: grep's hit, the file, then pytest passing.
    assert "textutil.py:4:def slugify" in tool_messages(llm.requests[1])[0]
    assert "2 passed" in tool_messages(llm.requests[3])[-1]
    assert llm.requests[0]["messages"][0]["role"] == "system"
    assert llm.requests[0]["tools"][0]["function"]["name"] == "read_file"


async def test_malformed_arguments_go_back_to_the_model(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(calls=[Call("read_file", '{"path": "textutil.py"')]),
        Reply(calls=[tool("read_file", path="textutil.py")]),
        Reply(text="done"),
    )
    events = await run(make_agent(llm, repo))
    assert events[-1].status == "success"
    first = tool_messages(llm.requests[1])[0]
    assert first.startswith("Error: The arguments for read_file are not valid JSON")
    # History keeps valid JSON so providers accept it; the error quotes the original.
    sent = llm.requests[1]["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(sent) == {}
    assert "def slugify" in tool_messages(llm.requests[2])[1]


async def test_unknown_tools_and_bad_arguments_are_explained(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(
            calls=[
                tool("delete_everything", path="/"),
                tool("read_file", line=3),
                Call("grep", "[1, 2]"),
            ]
        ),
        Reply(text="sorry"),
    )
    events = await run(make_agent(llm, repo))
    errors = tool_messages(llm.requests[1])
    assert "There is no tool named 'delete_everything'" in errors[0]
    assert "read_file, list_files" in errors[0]
    assert "path: Field required" in errors[1]
    assert "must be a JSON object" in errors[2]
    assert [e.status for e in events if isinstance(e, ToolFinished)] == ["error"] * 3
    assert events[-1].status == "success"


EDIT = tool(
    "edit_file", path="textutil.py", old_text="import re\n", new_text="import re  # edited\n"
)
COMMAND = tool("run_command", command="touch ran.txt")


@pytest.mark.parametrize(
    ("mode", "edited", "ran"),
    [
        ("read-only", False, False),
        ("ask", False, False),
        ("auto-edit", True, False),
        ("full-auto", True, True),
    ],
)
async def test_headless_approval_modes(
    llm: ScriptedLLM, repo: Path, mode: str, edited: bool, ran: bool
) -> None:
    llm.add(Reply(calls=[EDIT, COMMAND]), Reply(text="done"))
    events = await run(make_agent(llm, repo, approval=mode))
    result = events[-1]
    assert ("# edited" in (repo / "textutil.py").read_text()) is edited
    assert (repo / "ran.txt").exists() is ran
    denied = [d.tool for d in result.permission_denials]
    assert denied == [
        name for name, allowed in (("edit_file", edited), ("run_command", ran)) if not allowed
    ]
    refusals = [m for m in tool_messages(llm.requests[1]) if m.startswith("Refused")]
    assert len(refusals) == len(denied)
    asked = [e for e in events if isinstance(e, ApprovalRequested)]
    assert len(asked) == (len(denied) if mode != "read-only" else 0)
    assert result.status == "success"


class Recorder:
    """An approver that says yes to commands and no to edits, with a message."""

    def __init__(self) -> None:
        self.requests: list[ApprovalRequest] = []

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        if request.kind == "execute":
            return Decision(allow=True)
        return Decision(allow=False, message="Not that file, use a new one.")


async def test_an_approver_decides_what_asks(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(calls=[EDIT, COMMAND]), Reply(text="done"))
    approver = Recorder()
    events = await run(make_agent(llm, repo, approval="ask", approver=approver))
    assert [r.name for r in approver.requests] == ["edit_file", "run_command"]
    assert approver.requests[1].summary == "$ touch ran.txt"
    assert (repo / "ran.txt").exists()
    assert "# edited" not in (repo / "textutil.py").read_text()
    assert tool_messages(llm.requests[1])[0] == "Not that file, use a new one."
    assert [d.tool for d in events[-1].permission_denials] == ["edit_file"]


async def test_turn_budget_stops_the_run(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(*[Reply(calls=[tool("list_files")]) for _ in range(5)])
    events = await run(make_agent(llm, repo, max_turns=2))
    result = events[-1]
    assert result.status == "budget_exceeded"
    assert result.turns == 2
    assert len(llm.requests) == 2
    assert "--max-turns 2" in result.error


async def test_cost_budget_stops_the_run(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(*[Reply(calls=[tool("list_files")], prompt_tokens=400_000) for _ in range(5)])
    events = await run(make_agent(llm, repo, model="openai/gpt-4o", max_cost=1.5))
    result = events[-1]
    assert result.status == "budget_exceeded"
    assert result.cost_usd >= 1.5
    assert len(llm.requests) == 2
    assert "--max-cost" in result.error


async def test_api_failure_ends_the_run_cleanly(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(calls=[EDIT]), Fault("status", status=500), Fault("status", status=500))
    agent = make_agent(llm, repo)
    events = await run(agent)
    result = events[-1]
    assert result.status == "failed"
    assert "failed 2 times" in result.error
    assert any(isinstance(e, Error) for e in events)
    assert "# edited" in (repo / "textutil.py").read_text()
    assert result.files_changed == ["textutil.py"]
    assert agent.store.get(agent.session_id).status == "failed"


def running(marker: str) -> bool:
    """Whether any process on the machine has ``marker`` in its command line."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


async def test_cancelling_stops_a_command_and_closes_the_session(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(calls=[tool("run_command", command="touch started; sleep 37.25")]))
    agent = make_agent(llm, repo)
    seen: list = []

    async def consume() -> None:
        async for event in agent.send("wait"):
            seen.append(event)

    task = asyncio.create_task(consume())
    for _ in range(200):
        if (repo / "started").exists() and running("sleep 37.25"):
            break
        await asyncio.sleep(0.05)
    assert running("sleep 37.25")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = agent.result
    assert result is not None and result.status == "cancelled"
    for _ in range(40):
        if not running("sleep 37.25"):
            break
        await asyncio.sleep(0.05)
    assert not running("sleep 37.25")
    assert agent.messages[-1] == {
        "role": "tool",
        "tool_call_id": agent.messages[-2]["tool_calls"][0]["id"],
        "content": "Cancelled by the user.",
    }
    assert agent.store.get(agent.session_id).status == "cancelled"
    assert isinstance(seen[-1], ToolStarted)


async def test_session_keeps_events_and_messages(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(text="Reading.", calls=[tool("read_file", path="textutil.py")]),
        Reply(text="It slugifies."),
    )
    agent = make_agent(llm, repo)
    events = await run(agent, "what does textutil do?")
    store = agent.store
    types = [e["type"] for e in store.events(agent.session_id)]
    assert types[0] == "session_started" and types[-1] == "result"
    assert "text_delta" not in types
    messages = store.messages(agent.session_id)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[1]["content"].endswith("</repository_map>\n\nwhat does textutil do?")
    assert "textutil.py:\n     4│ def slugify(text):" in messages[1]["content"]
    info = store.get(agent.session_id)
    assert info.status == "success" and info.title == "what does textutil do?"
    assert events[-1].session_id == agent.session_id


async def test_project_instructions_reach_the_model(llm: ScriptedLLM, repo: Path) -> None:
    (repo / "AGENTS.md").write_text("Always run tests with `make check`.\n")
    llm.add(Reply(text="ok"))
    await run(make_agent(llm, repo, approval="auto-edit"))
    system = llm.requests[0]["messages"][0]["content"]
    assert "Always run tests with `make check`." in system
    assert "Auto-edit mode" in system
    assert str(repo) in system


async def test_plan_updates_are_events(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(
            calls=[
                tool(
                    "update_plan",
                    items=[{"step": "Read", "status": "in_progress"}, {"step": "Fix"}],
                )
            ]
        ),
        Reply(text="ok"),
    )
    events = await run(make_agent(llm, repo))
    plans = [e for e in events if isinstance(e, PlanUpdated)]
    assert [(i.step, i.status) for i in plans[0].items] == [
        ("Read", "in_progress"),
        ("Fix", "pending"),
    ]


class Broken(Tool):
    """A tool with a bug."""

    name: ClassVar[str] = "broken"
    kind: ClassVar[str] = "read"

    async def run(self, ctx: ToolContext) -> ToolResult:
        raise RuntimeError("boom")


async def test_a_crashing_tool_does_not_end_the_session(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(calls=[tool("broken")]), Reply(text="moving on"))
    events = await run(make_agent(llm, repo, tools={**REGISTRY, "broken": Broken}))
    assert "failed unexpectedly (RuntimeError: boom)" in tool_messages(llm.requests[1])[0]
    assert events[-1].status == "success"


async def test_the_repo_map_can_be_turned_off(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="ok"))
    events = await run(make_agent(llm, repo, map_tokens=0), "where is slugify?")
    assert llm.requests[0]["messages"][1]["content"] == "where is slugify?"
    ready = next(e for e in events if isinstance(e, IndexReady))
    assert ready.files == 3 and ready.problem is None


async def test_code_tools_see_edits_made_during_the_session(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(
            calls=[
                tool(
                    "write_file",
                    path="helpers.py",
                    content="def shout(text):\n    return text.upper()\n",
                )
            ]
        ),
        Reply(
            calls=[tool("find_symbol", symbol="shout"), tool("file_outline", path="textutil.py")]
        ),
        Reply(calls=[tool("repo_map", query="shout", tokens=256)]),
        Reply(text="done"),
    )
    await run(make_agent(llm, repo), "add shout")
    found, outline = tool_messages(llm.requests[2])[-2:]
    assert "helpers.py:1  def shout(text):" in found
    assert "def slugify(text):" in outline
    assert tool_messages(llm.requests[3])[-1].startswith("helpers.py:")


async def test_build_artifacts_are_not_changed_files(llm: ScriptedLLM, repo: Path) -> None:
    (repo / ".gitignore").write_text("")  # changed before the run: not the run's doing
    llm.add(
        Reply(calls=[tool("run_command", command="python -c 'import textutil' && touch notes.md")]),
        Reply(text="done"),
    )
    events = await run(make_agent(llm, repo), "import it")
    assert list((repo / "__pycache__").glob("textutil.*.pyc"))
    assert events[-1].files_changed == ["notes.md"]
