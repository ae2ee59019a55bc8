"""What the user does between turns, through the core: a mode change the model is told of,
another model, a commit on demand, a command or the tests run for the user, the repo map."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import Committed, Error, TestsFinished, ToolFinished, ToolStarted
from agent.llm import LLM
from tools.base import ToolError
from tools.shell import RunCommand
from tools.tests import RunTests

from helpers import drain, git, identity, make_agent
from scripted_llm import Reply, ScriptedLLM, tool


def sent_text(llm: ScriptedLLM, index: int = -1) -> str:
    """The last user message of request ``index``, as the model received it."""
    messages = llm.requests[index]["messages"]
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


async def test_a_mode_change_reaches_the_model(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="Hello."), Reply(text="Noted."))
    conversation = make_agent(llm, repo, approval="ask")
    await drain(conversation, "hi")
    assert "Ask mode" in llm.requests[0]["messages"][0]["content"]
    assert conversation.set_approval("auto-edit") is None
    assert conversation.permissions.mode == "auto-edit"
    assert conversation.set_approval("auto-edit") is None  # no change, no second note
    await drain(conversation, "go on")
    system = llm.requests[1]["messages"][0]["content"]
    assert "Ask mode" not in system
    assert "approval mode to auto-edit" in sent_text(llm)
    assert sent_text(llm).rstrip().endswith("go on")
    llm.add(Reply(text="Ok."))
    await drain(conversation, "again")
    assert "approval mode" not in sent_text(llm)  # told once


async def test_a_mode_past_the_projects_cap_is_said(llm: ScriptedLLM, repo: Path) -> None:
    (repo / ".shipmate.toml").write_text('approval = "ask"\n')
    conversation = make_agent(llm, repo, approval="ask")
    warning = conversation.set_approval("full-auto")
    assert warning is not None and ".shipmate.toml" in warning
    assert conversation.permissions.mode == "full-auto"  # the user's choice still applies
    assert conversation.set_approval("read-only") is None


async def test_another_model_takes_the_next_message(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="One."), Reply(text="Two."))
    conversation = make_agent(llm, repo)
    await drain(conversation, "first")
    conversation.use_model(LLM("openai/other", api_base=llm.url, api_key="k", max_retries=0))
    await drain(conversation, "second")
    assert llm.requests[0]["model"] == "scripted"
    assert llm.requests[1]["model"] == "other"
    assert conversation.ctx.model == "openai/other"


async def test_commit_now_commits_the_sessions_changes(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    llm.add(
        Reply(calls=[tool("write_file", path="notes.txt", content="hello\n")]),
        Reply(text="Written."),
        Reply(text="Add notes.txt"),  # the commit message /commit asks for
    )
    conversation = make_agent(llm, repo, auto_commit=False)
    await drain(conversation, "write notes")
    assert "notes.txt" in git(repo, "status", "--porcelain")
    events = [event async for event in conversation.commit_now()]
    (committed,) = [event for event in events if isinstance(event, Committed)]
    assert committed.files == ["notes.txt"] and committed.subject == "Add notes.txt"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s").strip() == "Add notes.txt"
    again = [event async for event in conversation.commit_now("more")]
    assert isinstance(again[-1], Error) and "no uncommitted" in again[-1].message


async def test_commit_now_takes_the_users_message(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    llm.add(Reply(calls=[tool("write_file", path="a.txt", content="a\n")]), Reply(text="Done."))
    conversation = make_agent(llm, repo, auto_commit=False)
    await drain(conversation, "write a")
    events = [event async for event in conversation.commit_now("Write a.txt by hand")]
    assert isinstance(events[-1], Committed)
    assert git(repo, "log", "-1", "--format=%s").strip() == "Write a.txt by hand"
    assert len(llm.requests) == 2  # no model call for the message


async def test_a_users_command_is_told_to_the_model(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="I see it."))
    conversation = make_agent(llm, repo, approval="full-auto")
    events = [e async for e in conversation.run_for_user(RunCommand(command="echo hi"), True)]
    assert isinstance(events[0], ToolStarted)
    assert isinstance(events[-1], ToolFinished) and events[-1].status == "ok"
    assert "hi" in events[-1].output
    assert conversation.messages == []  # outside the history
    await drain(conversation, "what did it say?")
    assert "The user ran `echo hi`" in sent_text(llm)


async def test_a_users_command_asks_as_the_models_do(llm: ScriptedLLM, repo: Path) -> None:
    conversation = make_agent(llm, repo, approval="read-only")
    events = [e async for e in conversation.run_for_user(RunCommand(command="touch x"), True)]
    assert events[-1].status == "denied"
    assert not (repo / "x").exists()
    assert conversation._notes == {}


async def test_the_tests_run_for_the_user(llm: ScriptedLLM, repo: Path) -> None:
    conversation = make_agent(llm, repo, approval="full-auto")
    events = [e async for e in conversation.run_for_user(RunTests(target="test_textutil.py"))]
    (tests,) = [event for event in events if isinstance(event, TestsFinished)]
    assert tests.counts.get("failed") == 1 and tests.failures
    assert conversation._notes == {}  # not told unless asked


async def test_the_repo_map_before_any_message(llm: ScriptedLLM, repo: Path) -> None:
    conversation = make_agent(llm, repo)
    text = await conversation.repo_map("slugify")
    assert "textutil.py" in text and "slugify" in text


async def test_no_repo_map_says_why(
    llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.events import IndexReady

    conversation = make_agent(llm, repo)
    monkeypatch.setattr(conversation, "_open_index", lambda stop: IndexReady(problem="broken"))
    with pytest.raises(ToolError, match="broken"):
        await conversation.repo_map()
