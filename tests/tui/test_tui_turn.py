"""A whole turn in the app: streamed Markdown, a tool call block that expands."""

from __future__ import annotations

from pathlib import Path

from conftest import idle, make_app, running, say, screen_text

from agent.session import short_id
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from helpers import FIX_NEW, FIX_OLD, git, identity
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


async def test_auto_test_runs_show_as_expandable_test_blocks(llm: ScriptedLLM, repo: Path) -> None:
    """Auto-test's runs are not the model's tool calls, yet each is a block that expands to
    the structured result: the run before the first edit (the unicode test already failing),
    and the one after the turn (all passing)."""
    import_unicodedata = tool(
        "edit_file",
        path="textutil.py",
        old_text="import re\n",
        new_text="import re\nimport unicodedata\n",
    )
    llm.add(
        Reply(
            calls=[
                import_unicodedata,
                tool("edit_file", path="textutil.py", old_text=FIX_OLD, new_text=FIX_NEW),
            ]
        ),
        Reply(text="Fixed."),
        Reply(text="Strip accents in slugify()"),  # the auto-commit's message
    )
    identity(repo)
    app = make_app(llm, repo, approval="full-auto", auto_test=True)
    async with running(app) as pilot:
        await say(pilot, "fix slugify for accents")
        await idle(pilot, timeout=60)
        runs = [block for block in app.view.query(ToolBlock) if "auto-test" in block.summary]
        assert [block.status for block in runs] == ["error", "ok"], [b.summary for b in runs]
        assert "before the agent's edits" in runs[0].summary
        await pilot.click(runs[0])
        body = str(runs[0].body.render())
        assert "1 failed" in body and "test_unicode" in body
        assert "passed" in runs[1].tests and "failed" not in runs[1].tests
        said = app.summary()  # printed into the scrollback on leaving
        commit = git(repo, "rev-parse", "--short=7", "HEAD").strip()
        assert "1 file(s) changed (textutil.py)" in said and f"1 commit(s) ({commit})" in said
        assert "tests: 2 passed" in said
        session = short_id(app.conversation.session_id)
        assert said.endswith(f"resume with: shipmate --resume {session}")
