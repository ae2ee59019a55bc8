"""More slash commands, each backed by the core: /model, /commit, /test, /map, /sessions and
/resume, ``!cmd``, and approval mode changes the model is told of."""

from __future__ import annotations

from pathlib import Path

from conftest import idle, make_app, running, say, until

from agent.tui.screens.sessions import SessionsScreen
from agent.tui.widgets.note import Note
from agent.tui.widgets.output_block import OutputBlock
from agent.tui.widgets.records import record
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from helpers import git, identity
from scripted_llm import Reply, ScriptedLLM, tool


def last_note(app) -> Note:  # type: ignore[no-untyped-def]
    return app.view.query(Note)[-1]


def sent_text(llm: ScriptedLLM) -> str:
    """The last user message the model received."""
    messages = llm.requests[-1]["messages"]
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


async def test_model_shows_and_switches(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="From the other one."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "/model")
        assert last_note(app).text == "Model: openai/scripted"
        await say(pilot, "/model nonsense/xyz")
        await until(pilot, lambda: last_note(app).kind == "error")
        assert "Unknown model 'nonsense/xyz'" in last_note(app).text
        assert app.status.model == "openai/scripted"
        await say(pilot, "/model other")
        await until(pilot, lambda: app.status.model == "openai/other")
        await say(pilot, "hello")
        await idle(pilot)
        assert llm.requests[-1]["model"] == "other"


async def test_commit_commits_the_agents_changes(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    llm.add(
        Reply(calls=[tool("write_file", path="notes.txt", content="hello\n")]),
        Reply(text="Written."),
    )
    app = make_app(llm, repo, approval="full-auto", auto_commit=False)
    async with running(app) as pilot:
        await say(pilot, "write notes")
        await idle(pilot)
        # The status bar counts after the turn or the commit ended (git runs in a thread).
        await until(pilot, lambda: app.status.uncommitted == 1)
        assert "✎ 1 uncommitted" in str(app.status.render())
        await say(pilot, "/commit Add the notes")
        await idle(pilot)
        assert last_note(app).text.startswith("git: committed")
        await until(pilot, lambda: app.status.uncommitted == 0)
        assert git(repo, "log", "-1", "--format=%s").strip() == "Add the notes"
        await say(pilot, "/commit")
        await idle(pilot)
        assert last_note(app).kind == "error" and "no uncommitted" in last_note(app).text


async def test_test_shows_the_structured_result(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "/test test_textutil.py")
        await idle(pilot, timeout=60)
        (block,) = app.view.query(ToolBlock)
        assert "run_tests" in block.summary and "1 failed" in block.tests
        assert block.expanded
        body = str(block.body.render())
        assert "1 failed" in body and "test_textutil.py::" in body  # the failing test, named
        assert not llm.requests  # the model was not asked anything
        llm.add(Reply(text="I see the failure."))
        await say(pilot, "what failed?")
        await idle(pilot)
    assert "test_textutil.py::" in sent_text(llm)  # the run was offered to the model


async def test_map_shows_the_repo_map(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "/map slugify [@click=app.quit]")
        await until(pilot, lambda: bool(app.view.query(OutputBlock)))
        (block,) = app.view.query(OutputBlock)
        assert "textutil.py" in block.text
        await pilot.pause()
        assert app.is_running


async def test_shell_runs_and_the_model_sees_it(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="It said hi."))
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "!echo hi-there")
        await idle(pilot)
        (block,) = app.view.query(ToolBlock)
        assert block.expanded and "hi-there" in block.output
        assert not app.view.query(UserMessage)
        await say(pilot, "what did it say?")
        await idle(pilot)
        assert "The user ran `echo hi-there`" in sent_text(llm)


async def test_shell_asks_in_ask_mode(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo, approval="ask")
    async with running(app) as pilot:
        await say(pilot, "!touch made-by-user")
        await until(pilot, lambda: bool(app.pending))
        await pilot.press("n")
        await idle(pilot)
        assert not (repo / "made-by-user").exists()
        assert app.view.query(ToolBlock)[0].status == "denied"


async def test_sessions_picker_and_resume(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="First answer."), Reply(text="Second answer."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "the first session")
        await idle(pilot)
        assert app.conversation is not None
        first = app.conversation.session_id
        await say(pilot, "/clear")
        await say(pilot, "the second session")
        await idle(pilot)
        second = app.conversation.session_id
        await say(pilot, "/sessions")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SessionsScreen))
        assert app.conversation.session_id == second
        await say(pilot, "/sessions")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("down", "enter")  # the newest (this one) is first
        await until(pilot, lambda: app.conversation.session_id == first)
        shown = [line.text for line in app.view.query(UserMessage)]
        assert shown == ["the first session"]
        await say(pilot, f"/resume {second[:8]}")
        await until(pilot, lambda: app.conversation.session_id == second)
        assert [line.text for line in app.view.query(UserMessage)] == ["the second session"]
        await say(pilot, "/resume nonexistent")
        assert last_note(app).kind == "error"


async def test_mode_changes_reach_the_model(llm: ScriptedLLM, repo: Path) -> None:
    (repo / ".shipmate.toml").write_text('approval = "ask"\n')
    llm.add(Reply(text="Hi."), Reply(text="Understood."))
    app = make_app(llm, repo, approval="ask")
    warnings: list[str] = []
    app.notify = lambda message, **_: warnings.append(message)  # type: ignore[method-assign]
    async with running(app) as pilot:
        await say(pilot, "hello")
        await idle(pilot)
        await pilot.press("shift+tab")
        assert app.conversation is not None
        assert app.conversation.permissions.mode == "auto-edit"
        assert warnings and ".shipmate.toml" in warnings[-1]
        await say(pilot, "/approval read-only")
        await say(pilot, "go on")
        await idle(pilot)
        assert "approval mode to read-only" in sent_text(llm)
        assert "Read-only (planning) mode" in llm.requests[-1]["messages"][0]["content"]


async def test_a_pruned_test_run_comes_back_with_its_failures(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "/test test_textutil.py")
        await idle(pilot, timeout=60)
        (block,) = app.view.query(ToolBlock)
        shown = str(block.body.render())
        made = record(block)
        assert made is not None
        again = made()
        await app.view.mount(again)
        await pilot.pause()
        assert str(again.body.render()) == shown and "test_textutil.py::" in shown
