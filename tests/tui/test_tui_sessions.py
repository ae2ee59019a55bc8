"""Starting without a usable model, and going on with a stored session."""

from __future__ import annotations

from pathlib import Path

from conftest import SIZE, idle, make_app, running, say, until

from agent.config import Settings
from agent.tui.app import Launch, ShipmateApp
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.note import Note
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from helpers import edit, identity
from scripted_llm import Reply, ScriptedLLM, tool


async def test_no_key_is_said_and_the_app_stays(repo: Path) -> None:
    """A model is configured but its key is missing: a red note, not onboarding (which opens
    only when no model is configured at all; see test_tui_onboarding.py)."""
    settings = Settings(model="anthropic/claude-sonnet-4-5")
    app = ShipmateApp(Launch(workspace=repo, settings=settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.view.query(Note)))
        (note,) = app.view.query(Note)
        assert note.kind == "error" and "ANTHROPIC_API_KEY" in note.text
        assert app.onboarding is None and app.screen is app.screen_stack[0]
        await say(pilot, "hello")
        assert app.is_running and app.queue


async def test_continue_shows_the_earlier_conversation(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(text="Looking.", calls=[tool("read_file", path="textutil.py")]),
        Reply(text="It slugifies."),
        Reply(text="Still here."),
    )
    first = make_app(llm, repo)
    async with running(first) as pilot:
        await say(pilot, "what is textutil?")
        await idle(pilot)
        session = first.conversation.session_id if first.conversation else None
        first.parts["store"].release(first.parts["store"].find(session))
    settings = first.settings
    again = ShipmateApp(Launch(workspace=repo, settings=settings, continue_session=True))
    async with running(again) as pilot:
        assert again.conversation is not None and again.conversation.session_id == session
        assert [line.text for line in again.view.query(UserMessage)] == ["what is textutil?"]
        texts = [widget.source for widget in again.view.query(AssistantText)]
        assert texts == ["Looking.", "It slugifies."]
        assert len(again.view.query(ToolBlock)) == 1
        await say(pilot, "and now?")
        await idle(pilot)
        assert again.view.query(AssistantText)[-1].source == "Still here."


async def test_a_resumed_session_says_which_turns_were_undone(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport unicodedata\n"),
        Reply(text="Imported it."),
        Reply(text="Import unicodedata"),  # the auto-commit's message
    )
    first = make_app(llm, repo, approval="full-auto")
    async with running(first) as pilot:
        await say(pilot, "import unicodedata")
        await idle(pilot)
        assert " 1 commit(s) " in first.summary()
        await say(pilot, "/undo")
        await until(pilot, lambda: "Undid turn" in first.view.query(Note)[-1].text)
        assert "commit" not in first.summary() and "changed" not in first.summary()
        session = first.conversation.session_id if first.conversation else None
        first.parts["store"].release(first.parts["store"].find(session))
    again = ShipmateApp(Launch(workspace=repo, settings=first.settings, continue_session=True))
    async with running(again):
        notes = [note.text for note in again.view.query(Note)]
        assert "Undone since: turn 1 ('import unicodedata'); its changes are gone." in notes
