"""The input completes ``@`` files and ``/`` commands; a mentioned file joins the context
(a secret file or one outside the workspace is refused, on screen); a queued message is
taken back with Up."""

from __future__ import annotations

from pathlib import Path

from conftest import idle, make_app, running, say, until
from textual.events import Key
from textual.pilot import Pilot

from agent.tui.app import ShipmateApp
from agent.tui.completion import rank_files, token_at
from agent.tui.widgets.note import Note
from agent.tui.widgets.user_message import UserMessage

from scripted_llm import Fault, Reply, ScriptedLLM


async def type_(pilot: Pilot[None], text: str) -> None:
    for character in text:
        await pilot.press(character)
    await pilot.pause()


def test_ranking_prefers_the_basename_and_short_paths() -> None:
    paths = ["docs/textutil_notes.md", "textutil.py", "src/tests/x_t_u.py", "test_textutil.py"]
    assert rank_files("txtu", paths)[:3] == ["textutil.py", "test_textutil.py", paths[0]]
    assert rank_files("zzz", paths) == []
    assert token_at("see @src/a", 0, 10) is not None
    assert token_at("mail me@x", 0, 9) is None
    assert token_at("/co", 0, 3) is not None and token_at("a /co", 0, 5) is None


async def test_at_completes_a_file_that_joins_the_context(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="I see it."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await type_(pilot, "explain @txtu")
        await until(pilot, lambda: app.completions.chosen is not None)
        assert app.completions.entries[0][0] == "textutil.py"
        assert [value for value, _ in app.completions.entries] == [
            "textutil.py",
            "test_textutil.py",
        ]
        await pilot.press("down", "up", "tab")
        assert app.input.text == "explain @textutil.py "
        assert not app.completions.open
        await type_(pilot, "please")
        await pilot.press("enter")
        await idle(pilot)
        (line,) = app.view.query(UserMessage)
        assert line.files == ["textutil.py"]
        assert "+ textutil.py" in str(line.render())
    sent = llm.requests[0]["messages"][-1]["content"]
    assert '<file path="textutil.py">' in sent and "def slugify" in sent


async def test_esc_closes_the_list_and_stops_nothing(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await type_(pilot, "@test")
        await until(pilot, lambda: app.completions.chosen is not None)
        await pilot.press("escape")
        assert not app.completions.open
        assert app.input.text == "@test"
        assert app.focused is app.input


async def test_a_secret_or_outside_file_is_refused_on_screen(llm: ScriptedLLM, repo: Path) -> None:
    (repo / ".env").write_text("API_KEY=sk-very-secret\n")
    (repo.parent / "outside.txt").write_text("private notes\n")
    llm.add(Reply(text="Fine."))
    app = make_app(llm, repo, approval="full-auto")
    async with running(app) as pilot:
        await say(pilot, "use @.env and @../outside.txt")
        await idle(pilot)
        (line,) = app.view.query(UserMessage)
        assert line.files == []
        errors = [note.text for note in app.view.query(Note) if note.kind == "error"]
        assert any(text.startswith("@.env not attached") for text in errors), errors
        assert any("outside the workspace" in text for text in errors), errors
    sent = llm.requests[0]["messages"][-1]["content"]
    assert "sk-very-secret" not in sent and "private notes" not in sent


async def test_slash_completes_commands_with_their_help(llm: ScriptedLLM, repo: Path) -> None:
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await type_(pilot, "/c")
        names = [value for value, _ in app.completions.entries]
        assert "clear" in names and "cost" in names
        assert all(name.startswith("c") for name in names)
        assert all(help_ for _, help_ in app.completions.entries)
        await type_(pilot, "os")
        assert app.completions.entries == [("cost", "tokens and cost of this session")]
        await pilot.press("enter")
        assert app.input.text == "/cost "
        await pilot.press("enter")
        await pilot.pause()
        assert app.view.query(Note)[-1].text.startswith("This session:")
        await type_(pilot, "/help")  # typed whole: Enter runs it
        await pilot.press("enter")
        await pilot.pause()
        assert "/compact" in app.view.query(Note)[-1].text


async def test_up_takes_back_the_last_queued_message(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("slow", seconds=1.0), Reply(text="Second answer."))
    app = make_app(llm, repo)
    assert isinstance(app, ShipmateApp)
    async with running(app) as pilot:
        await say(pilot, "first")
        await until(pilot, lambda: app.busy)
        await say(pilot, "second")
        await say(pilot, "third")
        assert [text for text, _ in app.queue] == ["second", "third"]
        await pilot.press("up")
        await pilot.pause()
        assert app.input.text == "third"
        assert [text for text, _ in app.queue] == ["second"]
        assert [line.text for line in app.view.query(UserMessage)] == ["first", "second"]
        app.input.clear()
        await idle(pilot)
    assert len(llm.requests) == 2
    assert llm.requests[1]["messages"][-1]["content"].endswith("second")


async def test_a_command_typed_fast_runs_on_the_first_enter(llm: ScriptedLLM, repo: Path) -> None:
    """Keys that arrive together (a fast typist, tmux's send-keys) run the command on the
    first Enter, not only complete it."""
    app = make_app(llm, repo)
    async with running(app) as pilot:
        for character in "/cost":
            app.input.post_message(Key(character, character))
        app.input.post_message(Key("enter", None))
        await until(pilot, lambda: bool(app.view.query(Note)))
        assert app.view.query(Note)[-1].text.startswith("This session:")
        assert app.input.text == ""


async def test_a_click_takes_a_queued_message_back(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("slow", seconds=1.0), Reply(text="Done."))
    app = make_app(llm, repo)
    async with running(app) as pilot:
        await say(pilot, "first")
        await until(pilot, lambda: app.busy)
        await say(pilot, "second")
        await say(pilot, "third")
        app.input.insert("draft")
        second = app.queue[0][1]
        await pilot.click(second)
        await pilot.pause()
        assert [text for text, _ in app.queue] == ["third"]
        assert app.input.text == "draft\nsecond"
        assert [line.text for line in app.view.query(UserMessage)] == ["first", "third"]
        app.input.clear()
        await idle(pilot)
    assert [r["messages"][-1]["content"][-5:] for r in llm.requests] == ["first", "third"]
