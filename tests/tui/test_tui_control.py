"""Control of the turn: Esc stops it, messages typed meanwhile are queued, Shift+Tab cycles
the approval mode, and a failing model API leaves the session usable."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import idle, make_app, ready, running, say, until
from textual.command import CommandPalette
from textual.events import Paste

from agent.tui.app import terminal_theme
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.note import Note
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from scripted_llm import Fault, Reply, ScriptedLLM, tool


async def test_esc_stops_the_stream_and_the_session_goes_on(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("stall", seconds=30), Reply(text="Fine, here it is."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "explain textutil")
        await until(pilot, lambda: bool(app.view.query(AssistantText)))
        await pilot.press("escape")
        await idle(pilot, timeout=5)
        notes = [note.text for note in app.view.query(Note)]
        assert any(text.startswith("Interrupted") for text in notes)
        await say(pilot, "try again")
        await idle(pilot)
        assert app.view.query(AssistantText)[-1].source == "Fine, here it is."


async def test_esc_stops_a_running_command_at_once(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(calls=[tool("run_command", command="sleep 30 && touch finished")]),
        Reply(text="Back again."),
    )
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "wait a while")
        await until(pilot, lambda: any(b.status == "running" for b in app.view.query(ToolBlock)))
        await pilot.pause(0.5)  # the command is under way in the sandbox
        started = time.monotonic()
        await pilot.press("escape")
        await idle(pilot, timeout=5)
        assert time.monotonic() - started < 3
        (block,) = app.view.query(ToolBlock)
        assert block.status == "cancelled"
        await say(pilot, "go on")
        await idle(pilot)
        assert app.view.query(AssistantText)[-1].source == "Back again."
    assert not (repo / "finished").exists()


async def test_a_message_sent_while_working_is_queued(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("slow", seconds=1.0), Reply(text="Second answer."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "first")
        await until(pilot, lambda: app.busy)
        await say(pilot, "second")
        lines = list(app.view.query(UserMessage))
        assert [(line.text, line.queued) for line in lines] == [("first", False), ("second", True)]
        assert "queued" in str(lines[1].render())
        await idle(pilot)
        assert not lines[1].queued
        assert [s.source for s in app.view.query(AssistantText)] == ["too late", "Second answer."]
    assert llm.requests[1]["messages"][-1]["content"].endswith("second")


async def test_shift_tab_cycles_the_approval_mode(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo, approval="ask")
    async with running(app) as pilot:
        seen = []
        for _ in range(4):
            await pilot.press("shift+tab")
            assert app.conversation is not None
            seen.append((app.status.mode, app.conversation.permissions.mode))
        assert seen == [
            ("auto-edit", "auto-edit"),
            ("full-auto", "full-auto"),
            ("read-only", "read-only"),
            ("ask", "ask"),
        ]
        assert "ask" in str(app.status.render())
        await say(pilot, "/approval full-auto")
        assert app.conversation.permissions.mode == "full-auto"
        assert app.focused is app.input


async def test_an_api_failure_is_a_readable_message(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("status", status=500), Reply(text="Back again."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "hello")
        await idle(pilot)
        (error,) = [note for note in app.view.query(Note) if note.kind == "error"]
        assert "500" in error.text or "server" in error.text.lower()
        assert "Traceback" not in error.text
        await say(pilot, "hello again")
        await idle(pilot)
        assert app.view.query(AssistantText)[-1].source == "Back again."
        assert app.is_running


async def test_esc_while_asking_stops_the_turn_and_gives_the_keys_back(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(calls=[tool("run_command", command="ls")]), Reply(text="Next."))
    app = make_app(llm, repo, approval="ask")
    async with running(app) as pilot:
        await say(pilot, "list the files")
        await until(pilot, lambda: bool(app.pending) and app.focused is app.pending[0])
        block = app.pending[0]
        await pilot.press("escape")
        await idle(pilot)
        assert block.status == "cancelled" and not block.waiting
        assert app.focused is app.input
        await say(pilot, "go on")
        await idle(pilot)
        assert app.view.query(AssistantText)[-1].source == "Next."


async def test_a_paste_never_sends_and_ctrl_c_twice_quits(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        app.post_message(Paste("first line\nsecond line\n"))  # as the terminal sends it
        await pilot.pause(0.05)
        assert app.input.text == "first line\nsecond line\n"
        assert not app.view.query(UserMessage)
        await pilot.press("ctrl+c")
        assert app.is_running
        await pilot.press("ctrl+c")
        await pilot.pause(0.05)
    assert not llm.requests


async def test_the_command_palette_runs_commands_and_sets_modes(
    llm: ScriptedLLM, repo: Path
) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"full-auto")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette))
        assert app.mode == "full-auto" and app.status.mode == "full-auto"
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"/cost")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.view.query(Note)))
        assert app.view.query(Note)[-1].text.startswith("This session:")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"/model")
        await pilot.pause(0.3)
        await pilot.press("enter")  # it takes a name: put in the input to finish
        await until(pilot, lambda: app.input.text == "/model ")
        assert app.focused is app.input


def test_the_theme_follows_the_terminal() -> None:
    assert terminal_theme("15;0") == "textual-dark"
    assert terminal_theme("0;15") == "textual-light"
    assert terminal_theme("0;default;7") == "textual-light"
    assert terminal_theme("") == "textual-dark"


async def test_the_theme_setting(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo, theme="light")
    async with running(app):
        assert app.theme == "textual-light"
    app = make_app(llm, repo, theme="nord")
    async with running(app):
        assert app.theme == "nord"
    app = make_app(llm, repo, theme="[b]neon")
    async with running(app) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        (said,) = list(app._notifications)
        assert "There is no theme '[b]neon'" in said.message and not said.markup


async def test_a_command_typed_while_starting_runs_once_started(
    llm: ScriptedLLM, repo: Path
) -> None:
    app = make_app(llm, repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await say(pilot, "/cost")
        if app.conversation is None:  # the usual case: litellm takes a second to import
            (line,) = app.view.query(UserMessage)
            assert line.queued and line.text == "/cost"
        await ready(pilot)
        await until(pilot, lambda: bool(app.view.query(Note)))
        assert app.view.query(Note)[-1].text.startswith("This session:")
        assert not app.view.query(UserMessage) and not app.queue
