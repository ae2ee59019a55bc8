"""Pilot tests of the app against the scripted model server: deterministic (no animation,
no cursor blink, a fixed size) and fast (the model retries at once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from agent.config import Settings
from agent.tui.app import Launch, ShipmateApp

from scripted_llm import ScriptedLLM

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic screens: no animation, and the dark theme whatever terminal runs them."""
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.delenv("COLORFGBG", raising=False)


def make_app(server: ScriptedLLM, workspace: Path, **settings: Any) -> ShipmateApp:
    config = Settings(model="openai/scripted", api_base=server.url, max_retries=0, **settings)
    return ShipmateApp(Launch(workspace=workspace, settings=config))


async def ready(pilot: Pilot[None]) -> None:
    """Wait until the conversation is built (litellm imported, sandbox probed)."""
    app = pilot.app
    assert isinstance(app, ShipmateApp)
    app.input.cursor_blink = False
    for _ in range(600):
        if app.conversation is not None:
            return
        await pilot.pause(0.02)
    raise AssertionError("the conversation was never ready")


async def idle(pilot: Pilot[None], timeout: float = 20) -> None:
    """Wait until the agent's turn (and the queue) is done."""
    app = pilot.app
    assert isinstance(app, ShipmateApp)
    for _ in range(int(timeout / 0.02)):
        await pilot.pause(0.02)
        if not app.busy and not app.queue:
            await pilot.pause(0.05)
            if not app.busy and not app.queue:
                return
    raise AssertionError("the agent never finished")


async def until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError("never happened")


async def say(pilot: Pilot[None], text: str) -> None:
    """Type ``text`` into the input and send it."""
    app = pilot.app
    assert isinstance(app, ShipmateApp)
    app.input.focus()
    app.input.insert(text)
    await pilot.press("enter")


@asynccontextmanager
async def running(app: ShipmateApp) -> AsyncIterator[Pilot[None]]:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        yield pilot


def screen_text(app: ShipmateApp) -> str:
    """Everything the conversation shows, as plain text."""
    from agent.tui.widgets.assistant_text import AssistantText

    parts = []
    for widget in app.view.query("*"):
        if isinstance(widget, AssistantText):
            parts.append(widget.source)
        elif hasattr(widget, "render") and widget.__class__.__name__ in (
            "Note",
            "UserMessage",
            "PlanView",
            "DiffView",
            "Static",
        ):
            parts.append(str(widget.render()))
    return "\n".join(parts)
