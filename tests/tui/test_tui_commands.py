"""Slash commands backed by the core: /diff, /undo, /cost, /clear, /help."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import idle, make_app, running, say, until

from agent.tui.widgets import conversation_view
from agent.tui.widgets.diff_view import DiffView
from agent.tui.widgets.note import Note

from helpers import edit, identity
from scripted_llm import Reply, ScriptedLLM


async def test_diff_then_undo_then_clear(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    before = (repo / "textutil.py").read_text()
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport unicodedata\n"),
        Reply(text="Imported it."),
        Reply(text="Import unicodedata"),  # the auto-commit's message
        Reply(text="The user had unicodedata imported; it was undone."),  # /compact's summary
    )
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "import unicodedata")
        await idle(pilot)
        notes = [note.text for note in app.view.query(Note)]
        assert any(text.startswith("git: committed") for text in notes), notes
        await say(pilot, "/diff")
        (diff,) = app.view.query(DiffView)
        assert "+import unicodedata" in str(diff.render())
        await say(pilot, "/undo")
        assert "Undid turn" in app.view.query(Note)[-1].text
        assert (repo / "textutil.py").read_text() == before
        await say(pilot, "/cost")
        assert app.view.query(Note)[-1].text.startswith("This session:")
        await say(pilot, "/help")
        assert "/compact" in app.view.query(Note)[-1].text
        await say(pilot, "/nonsense")
        assert app.view.query(Note)[-1].kind == "error"
        await say(pilot, "/compact")
        await idle(pilot)
        assert "compact" in app.view.query(Note)[-1].text
        assert app.view.query(Note)[-1].kind == "marker"
        first = app.conversation
        await say(pilot, "/clear")
        assert app.conversation is not first
        assert len(app.view.children) == 1


async def test_the_oldest_blocks_are_pruned(
    llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation_view, "KEEP", 4)
    app = make_app(llm, repo)
    async with running(app) as pilot:
        for number in range(6):
            await say(pilot, f"/approval {'ask' if number % 2 else 'auto-edit'}")
        assert len(app.view.children) == 4
        assert app.view.children[-1].text == "Approval mode: ask"


async def test_quit_leaves(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "/quit")
        await until(pilot, lambda: not app.is_running)
