"""Approvals inline: the pending block takes the keys, in order, and the draft survives."""

from __future__ import annotations

from pathlib import Path

from conftest import idle, make_app, running, say, until

from agent.tui.widgets.tool_block import ToolBlock

from helpers import edit
from scripted_llm import Reply, ScriptedLLM, tool


async def test_allow_always_deny_and_deny_with_a_message(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport unicodedata\n"),
        Reply(calls=[tool("run_command", command="ls")]),
        edit("textutil.py", "text.lower()", "text.casefold()"),
        edit("textutil.py", "def slugify", "def make_slug"),
        Reply(text="Done, as you asked."),
        Reply(text="Import unicodedata"),  # the auto-commit's message
    )
    app = make_app(llm, repo, approval="ask")
    async with running(app) as pilot:
        await say(pilot, "fix slugify")

        async def answer(key: str) -> ToolBlock:
            await until(pilot, lambda: any(block.waiting for block in app.pending))
            block = app.pending[0]
            assert app.focused is block
            assert "y allow once" in str(block.body.render())
            await pilot.press(key)
            return block

        first = await answer("y")
        assert "+import unicodedata" in str(first.body.render()) or first.status != "pending"
        command = await answer("a")
        await until(pilot, lambda: command.status in ("ok", "error"))
        casefold = await answer("n")
        await pilot.pause(0.1)
        assert casefold.status == "denied", [(b.summary, b.status) for b in app.blocks.values()]
        await until(pilot, lambda: any(block.waiting for block in app.pending))
        app.input.insert("half-typed")
        rename = app.pending[0]
        await pilot.press("m")
        assert app.focused is app.input and app.input.text == ""
        app.input.insert("keep the name")
        await pilot.press("enter")
        await idle(pilot)
        assert rename.status == "denied"
        assert app.input.text == "half-typed"
        assert app.focused is app.input
    answers = [m for m in llm.requests[4]["messages"] if m["role"] == "tool"]
    assert "Refused by the user" in answers[2]["content"]
    assert "keep the name" in answers[3]["content"]
    assert "import unicodedata" in (repo / "textutil.py").read_text()
    assert "casefold" not in (repo / "textutil.py").read_text()
    rules = app.conversation.permissions.rules if app.conversation else None
    assert rules is not None and any("ls" in rule.describe() for rule in rules.rules)
