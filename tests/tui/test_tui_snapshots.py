"""What the main screens look like (``--snapshot-update`` records them again)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import idle, make_app, ready, say, until
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from agent import onboarding
from agent.config import Settings
from agent.onboarding import Found, LocalServer
from agent.session import SessionSummary
from agent.tui.app import Launch, ShipmateApp
from agent.tui.screens.onboarding import OnboardingScreen
from agent.tui.screens.sessions import SessionsScreen
from agent.tui.widgets import conversation_view
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.earlier import Earlier
from agent.tui.widgets.note import Note
from agent.tui.widgets.tool_block import ToolBlock
from agent.tui.widgets.user_message import UserMessage

from helpers import edit
from scripted_llm import Reply, ScriptedLLM

ADD_IMPORT = Reply(
    text="I'll add the import.",
    calls=edit("textutil.py", "import re\n", "import re\nimport unicodedata\n").calls,
)


def test_an_empty_session(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    assert snap_compare(make_app(llm, repo), terminal_size=(120, 40), run_before=ready)


def test_an_empty_session_in_60_columns(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    assert snap_compare(make_app(llm, repo), terminal_size=(60, 30), run_before=ready)


def test_a_pending_approval(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    llm.add(ADD_IMPORT)
    app = make_app(llm, repo, approval="ask")

    async def pending(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await say(pilot, "strip accents in slugify")
        await until(pilot, lambda: bool(app.pending) and app.focused is app.pending[0])
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=pending)


def fixed_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durations on screen vary from run to run: shown as one fixed figure."""
    monkeypatch.setattr("agent.tui.widgets.tool_block.seconds", lambda elapsed: "12 ms")
    monkeypatch.setattr("agent.tui.app.seconds", lambda elapsed: "1.2 s")


def finished_turn(llm: ScriptedLLM, repo: Path):  # type: ignore[no-untyped-def]
    """A turn that edited a file and answered, its edit expanded to the diff."""
    llm.add(
        ADD_IMPORT,
        Reply(text="Done: `unicodedata` is **imported**.\n\n- next: strip accents"),
    )
    app = make_app(llm, repo, approval="auto-edit", auto_commit=False)

    async def finished(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await say(pilot, "import unicodedata in textutil")
        await idle(pilot)
        (block,) = app.view.query(ToolBlock)
        block.expanded = True
        app.input.focus()
        await pilot.pause(0.2)

    return app, finished


@pytest.mark.parametrize("width", [120, 60])
def test_a_finished_turn_with_a_diff(
    snap_compare: Any, llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    fixed_durations(monkeypatch)
    app, finished = finished_turn(llm, repo)
    assert snap_compare(app, terminal_size=(width, 40), run_before=finished)


def test_the_sessions_picker(
    snap_compare: Any, llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    day = 1_764_633_600  # 2025-12-02 00:00 UTC
    sessions = [
        SessionSummary(
            id=f"{number:02d}" + "5e55" * 8,
            created=day + number * 3600,
            updated=day + number * 3600 + 600,
            workspace=str(repo),
            model="openai/scripted",
            title=title,
            status=status,
        )
        for number, title, status in [
            (3, "strip accents in slugify [@click=app.quit]", "success"),
            (2, "why does test_unicode fail?", "cancelled"),
            (1, "add a --verbose flag", "error"),
        ]
    ]
    app = make_app(llm, repo)

    async def picker(pilot: Pilot[None]) -> None:
        await ready(pilot)
        app.push_screen(SessionsScreen(sessions, current=sessions[0].id))
        await pilot.pause(0.2)

    try:
        assert snap_compare(app, terminal_size=(120, 40), run_before=picker)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_empty_session_in_a_light_terminal(
    snap_compare: Any, llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLORFGBG", "0;15")
    assert snap_compare(make_app(llm, repo), terminal_size=(120, 40), run_before=ready)


def test_the_onboarding_screen(snap_compare: Any, repo: Path, monkeypatch: Any) -> None:
    fixed_servers(monkeypatch)
    app = ShipmateApp(Launch(workspace=repo, settings=Settings()))
    assert snap_compare(app, terminal_size=(120, 40), run_before=onboarding_ready)


def test_the_onboarding_screen_in_60_columns(
    snap_compare: Any, repo: Path, monkeypatch: Any
) -> None:
    fixed_servers(monkeypatch)
    app = ShipmateApp(Launch(workspace=repo, settings=Settings()))
    assert snap_compare(app, terminal_size=(60, 30), run_before=onboarding_ready)


def fixed_servers(monkeypatch: Any) -> None:
    """What detection finds, fixed: a real server's port would change from run to run."""
    found = [
        Found(LocalServer("Ollama", "http://localhost:11434", "ollama"), ["qwen2.5-coder:7b"]),
        Found(LocalServer("LM Studio", "http://localhost:1234"), []),
        Found(LocalServer("llama.cpp", "http://localhost:8080"), ["Qwen3-8B-Q4_K_M.gguf"]),
    ]
    monkeypatch.setattr(onboarding, "detect", lambda *args, **kwargs: found)


async def onboarding_ready(pilot: Pilot[None]) -> None:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, OnboardingScreen))
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await until(pilot, lambda: app.screen.query_one(OptionList).option_count == 3)
    await pilot.pause(0.1)


def test_blocks_made_again_after_pruning(
    snap_compare: Any, llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oldest blocks left the DOM; the line at the top was clicked: the reply comes
    back looking as it did, under the line that says what is still pruned."""
    monkeypatch.setattr(conversation_view, "KEEP", 4)
    monkeypatch.setattr(conversation_view, "BATCH", 2)
    app = make_app(llm, repo)

    async def scrolled_back(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await app.view.add(UserMessage("why does slugify drop accents?"))
        await app.view.add(AssistantText(REPLY))
        for number in range(5):
            await app.view.add(Note(f"note {number}"))
        await pilot.pause()
        await pilot.click(Earlier)
        await until(pilot, lambda: len(app.view.pruned) == 1)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(120, 40), run_before=scrolled_back)


REPLY = """It keeps only **ASCII** letters:

1. normalise with `NFKD`
2. drop the marks

```python
text = unicodedata.normalize("NFKD", text)
```"""
