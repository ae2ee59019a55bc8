"""What the main screens look like (``--snapshot-update`` records them again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_app, ready, say, until
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from agent import onboarding
from agent.config import Settings
from agent.onboarding import Found, LocalServer
from agent.tui.app import Launch, ShipmateApp
from agent.tui.screens.onboarding import OnboardingScreen

from scripted_llm import Reply, ScriptedLLM, tool


def test_an_empty_session(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    assert snap_compare(make_app(llm, repo), terminal_size=(120, 40), run_before=ready)


def test_an_empty_session_in_60_columns(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    assert snap_compare(make_app(llm, repo), terminal_size=(60, 30), run_before=ready)


def test_a_pending_approval(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(
            text="I'll add the import.",
            calls=[
                tool(
                    "edit_file",
                    path="textutil.py",
                    old_text="import re\n",
                    new_text="import re\nimport unicodedata\n",
                )
            ],
        )
    )
    app = make_app(llm, repo, approval="ask")

    async def pending(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await say(pilot, "strip accents in slugify")
        await until(pilot, lambda: bool(app.pending) and app.focused is app.pending[0])
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=pending)


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
