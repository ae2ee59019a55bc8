"""Slash commands backed by the core: /diff, /undo, /cost, /clear, /help."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import idle, make_app, running, say, until
from textual.widget import Widget

from agent.tui.commands import MODES
from agent.tui.widgets import conversation_view
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.diff_view import DiffView
from agent.tui.widgets.earlier import Earlier
from agent.tui.widgets.note import Note
from agent.tui.widgets.tool_block import ToolBlock

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


async def test_the_oldest_blocks_are_pruned_and_come_back_on_scrolling_up(
    llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation_view, "KEEP", 6)
    monkeypatch.setattr(conversation_view, "BATCH", 4)
    steps = "".join(f"- step {number}\n" for number in range(40))
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport unicodedata\n"),
        Reply(text=f"Imported **it**:\n\n{steps}\n```python\nimport unicodedata\n```"),
        Reply(text="Import unicodedata"),  # the auto-commit's message
    )
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "import unicodedata")
        await idle(pilot)
        (block,) = app.view.query(ToolBlock)
        block.expanded = True  # its diff shows
        await pilot.pause()
        originals = [looks(widget) for widget in app.view.blocks]
        assert any("+import unicodedata" in part for part in originals[1])
        for number in range(12):
            await say(pilot, f"/approval {MODES[number % 3]}")
            assert len(app.view.blocks) <= 6  # bounded: the oldest leave the DOM
        assert not block.is_attached
        assert app.view.earlier.count == len(app.view.pruned) == len(originals) + 12 - 6
        assert len(list(app.view.walk_children())) < 30

        await pilot.click(Earlier)  # what is left fits on screen: the line says "show"
        await until(pilot, lambda: len(app.view.blocks) == 10)
        for _ in range(5):  # the tall reply comes back: then scrolling up brings the rest
            if not app.view.pruned:
                break
            count = len(app.view.pruned)
            if app.view.max_scroll_y:
                app.view.scroll_home(animate=False)
            else:
                await pilot.click(Earlier)
            await until(pilot, lambda count=count: len(app.view.pruned) < count)
            await pilot.pause()
        assert not app.view.pruned and not app.view.earlier.is_attached
        assert app.view.scroll_y > 0  # the place kept: not thrown to the new top
        again = [looks(widget) for widget in app.view.blocks[: len(originals)]]
        assert again == originals

        app.view.scroll_end(animate=False)
        await pilot.pause()
        await say(pilot, "/approval ask")
        assert len(app.view.blocks) == 6  # back at the end, pruned again


def looks(widget: Widget) -> list[str]:
    """What a block shows, as text: a reply's Markdown, a tool's header and body, a
    line's text."""
    if isinstance(widget, AssistantText):
        return ["reply", widget.source]
    if isinstance(widget, ToolBlock):
        return [str(widget.header.render()), str(widget.body.render()), str(widget.body.display)]
    return [str(widget.render())]


async def test_quit_leaves(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "/quit")
        await until(pilot, lambda: not app.is_running)
