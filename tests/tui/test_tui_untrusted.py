"""Markup and escape sequences from the model or a file are shown literally and do nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import idle, make_app, running, say

from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.tool_block import ToolBlock

from helpers import git
from scripted_llm import Reply, ScriptedLLM, tool

HOSTILE = "[@click=app.quit]quit[/] E [/] F [bold]x \x1b]52;c;aGk=\x07 \x1b[2J \x9b31m red"
CONTROLS = ("\x1b", "\x9b", "\x07")


async def test_hostile_text_is_literal_and_harmless(llm: ScriptedLLM, repo: Path) -> None:
    (repo / "notes.txt").write_text(HOSTILE + "\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-qm", "notes")
    llm.add(
        Reply(text="Reading " + HOSTILE, calls=[tool("read_file", path="notes.txt")], chunk=3),
        Reply(text="It says " + HOSTILE),
    )
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, HOSTILE)
        await idle(pilot)
        texts = [widget.source for widget in app.view.query(AssistantText)]
        assert len(texts) == 2
        for text in texts:
            assert "[@click=app.quit]quit[/] E [/] F [bold]x" in text
            assert not any(control in text for control in CONTROLS)
        (block,) = app.view.query(ToolBlock)
        await pilot.click(block)
        shown = str(block.body.render())
        assert "[@click=app.quit]quit[/] E [/] F" in shown
        assert not any(control in shown for control in CONTROLS)
        screen = app.export_screenshot()
        assert not any(control in screen for control in CONTROLS)
        assert app.is_running


async def test_a_link_shows_its_address_and_never_opens(
    llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *args, **kwargs: opened.append(url))
    llm.add(Reply(text="See [the docs](https://example.invalid/\x1b[2Jdocs)."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "where are the docs?")
        await idle(pilot)
        (answer,) = app.view.query(AssistantText)
        assert "the docs (https://example.invalid/docs)" in answer.shown
        await pilot.click(answer)
        await pilot.pause()
    assert not opened
