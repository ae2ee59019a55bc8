"""A whole turn in the app: streamed Markdown, a tool call block that expands."""

from __future__ import annotations

from pathlib import Path

from conftest import idle, make_app, running, say, screen_text

from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from scripted_llm import Reply, ScriptedLLM, tool


async def test_a_turn_streams_text_and_shows_a_tool_call(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(text="Let me **look**.", calls=[tool("read_file", path="textutil.py")]),
        Reply(text="It *slugifies* text:\n\n- lower case\n- dashes", chunk=3),
    )
    app = make_app(llm, repo)
    async with running(app) as pilot:
        assert app.focused is app.input
        await say(pilot, "what does textutil do?")
        await idle(pilot)
        texts = [w.source for w in app.view.query(AssistantText)]
        assert texts == ["Let me **look**.", "It *slugifies* text:\n\n- lower case\n- dashes"]
        (block,) = app.view.query(ToolBlock)
        assert block.status == "ok" and "textutil.py" in block.summary
        assert not block.body.display
        await pilot.click(block)
        assert block.expanded and block.body.display
        assert "slugify" in str(block.body.render())
        assert "what does textutil do?" in screen_text(app)
        assert app.status.context_tokens > 0
        assert "ready" in app.status.index


async def test_typing_sending_newlines_and_history(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="One."), Reply(text="Two."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await pilot.press("h", "i", "ctrl+j", "t", "h", "e", "r", "e", "enter")
        await idle(pilot)
        assert [line.text for line in app.view.query(UserMessage)] == ["hi\nthere"]
        app.input.insert("draft")
        await pilot.press("up")
        assert app.input.text == "hi\nthere"
        await pilot.press("down", "down")
        assert app.input.text == "draft"
        await pilot.press("enter")
        await idle(pilot)
        assert [w.source for w in app.view.query(AssistantText)] == ["One.", "Two."]


def test_the_interactive_prompt_says_a_person_approves(repo: Path) -> None:
    """In the app a person answers approvals: the mode section must not tell the model
    that what asks will be refused, as it does for an unattended run."""
    from agent.context.prompt import system_prompt

    for mode in ("ask", "auto-edit"):
        unattended = system_prompt(repo, mode)
        interactive = system_prompt(repo, mode, interactive=True)
        assert "unattended run" in unattended
        assert "unattended" not in interactive and "allow or refuse" in interactive


async def test_the_app_tells_the_model_a_person_is_there(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="hello"))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "hi")
        await idle(pilot)
        system = llm.requests[0]["messages"][0]["content"]
        assert "allow or refuse" in system and "unattended" not in system
