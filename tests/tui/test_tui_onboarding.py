"""The first screen when no model is configured: keys, local servers, a typed model, and the
session that starts with the choice, without a restart."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import SIZE, idle, say, until
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from agent import onboarding
from agent.config import Settings, user_config_file
from agent.onboarding import LocalServer
from agent.tui.app import Launch, ShipmateApp
from agent.tui.screens.onboarding import OnboardingScreen
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.note import Note

from scripted_llm import Reply, ScriptedLLM, closed_port_url


@pytest.fixture
def servers(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> list[LocalServer]:
    """The scripted server as a local Ollama, and a port where nothing listens."""
    found = [
        LocalServer("Ollama", llm.url.removesuffix("/v1"), "ollama"),
        LocalServer("llama.cpp", closed_port_url().removesuffix("/v1")),
    ]
    monkeypatch.setattr(onboarding, "LOCAL_SERVERS", found)
    return found


def first_start(workspace: Path) -> ShipmateApp:
    """``shipmate`` with no model, no key and no config file: settings read from the files."""
    return ShipmateApp(Launch(workspace=workspace, flags={"max_retries": 0}))


async def onboarding_shown(pilot: Pilot[None]) -> OnboardingScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, OnboardingScreen))
    screen = app.screen
    assert isinstance(screen, OnboardingScreen)
    await until(pilot, lambda: "Looking" not in text_of(screen, "#onboarding-found"))
    return screen


def text_of(screen: OnboardingScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_onboarding_with_no_keys(
    llm: ScriptedLLM, repo: Path, servers: list[LocalServer]
) -> None:
    llm.add(Reply(text="Hello from the local model."))
    app = first_start(repo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await onboarding_shown(pilot)
        keys = text_of(screen, "#onboarding-keys")
        for variable in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"):
            assert variable in keys
        assert "none of the API keys" in keys and "export ANTHROPIC_API_KEY=" in keys
        assert "Found Ollama." in text_of(screen, "#onboarding-found")
        listed = screen.query_one(OptionList)
        assert listed.option_count == 1 and app.focused is listed
        assert "scripted:latest" in str(listed.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await until(pilot, lambda: app.conversation is not None)
        await until(pilot, lambda: not isinstance(app.screen, OnboardingScreen))
        saved = tomllib.loads(user_config_file().read_text())
        assert saved == {"model": "openai/scripted:latest", "api_base": llm.url}
        assert app.conversation.llm.model == "openai/scripted:latest"
        (note,) = app.view.query(Note)
        assert str(user_config_file()) in note.text and "openai/scripted:latest" in note.text
        await say(pilot, "hi")
        await idle(pilot)
        assert llm.requests[-1]["model"] == "scripted:latest"
        assert app.view.query(AssistantText)[-1].source == "Hello from the local model."


async def test_a_typed_model_that_cannot_start_is_said_there_and_nothing_saved(
    llm: ScriptedLLM, repo: Path, servers: list[LocalServer]
) -> None:
    llm.add(Reply(text="Typed, and it works."))
    app = first_start(repo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await onboarding_shown(pilot)
        model = screen.query_one("#onboarding-model", Input)
        model.focus()
        model.insert_text_at_cursor("anthropic/claude-sonnet-4-5")
        await pilot.press("enter")
        status = "#onboarding-status"
        await until(pilot, lambda: "ANTHROPIC_API_KEY" in text_of(screen, status))
        assert screen.query_one(status).has_class("error")
        assert app.screen is screen and not user_config_file().exists()
        model.clear()
        model.insert_text_at_cursor("openai/scripted")
        await pilot.press("tab")
        assert app.focused is screen.query_one("#onboarding-base", Input)
        await pilot.press(*llm.url, "enter")
        await until(pilot, lambda: app.conversation is not None)
        await until(pilot, lambda: not isinstance(app.screen, OnboardingScreen))
        saved = tomllib.loads(user_config_file().read_text())
        assert saved == {"model": "openai/scripted", "api_base": llm.url}
        await say(pilot, "hi")
        await idle(pilot)
        assert app.view.query(AssistantText)[-1].source == "Typed, and it works."


async def test_esc_goes_back_to_the_conversation_with_the_reason(
    repo: Path, servers: list[LocalServer]
) -> None:
    app = first_start(repo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await onboarding_shown(pilot)
        await pilot.press("shift+tab")  # moves between the fields: the mode stays
        assert app.mode == "ask"
        await pilot.press("escape")
        await until(pilot, lambda: bool(app.view.query(Note)))
        assert app.screen is not screen and app.onboarding is None
        (note,) = app.view.query(Note)
        assert note.kind == "error" and "No model is configured" in note.text
        await say(pilot, "hello")
        assert app.is_running and app.queue and app.conversation is None
        assert not user_config_file().exists()


async def test_q_leaves_too_but_types_in_a_field(repo: Path, servers: list[LocalServer]) -> None:
    app = ShipmateApp(Launch(workspace=repo, settings=Settings()))
    async with app.run_test(size=SIZE) as pilot:
        screen = await onboarding_shown(pilot)
        model = screen.query_one("#onboarding-model", Input)
        model.focus()
        await pilot.press("q")
        assert model.value == "q" and app.screen is screen
        screen.query_one(OptionList).focus()
        await pilot.press("q")
        await until(pilot, lambda: bool(app.view.query(Note)))
        assert app.screen is not screen


async def test_a_narrow_terminal_cuts_nothing_off(
    llm: ScriptedLLM, repo: Path, servers: list[LocalServer]
) -> None:
    app = first_start(repo)
    async with app.run_test(size=(60, 30)) as pilot:
        screen = await onboarding_shown(pilot)
        scroll = screen.query_one("#onboarding", VerticalScroll)
        assert scroll.max_scroll_x == 0  # everything wraps; nothing runs off to the right
        for widget in [*screen.query(Static), *screen.query(Input), screen.query_one(OptionList)]:
            assert widget.region.x >= 0 and widget.region.right <= 60, widget
        scroll.scroll_end(animate=False)
        await pilot.pause()
        assert screen.query_one("#onboarding-help").region.bottom <= 30


async def test_a_local_model_is_chosen_with_the_mouse(
    llm: ScriptedLLM, repo: Path, servers: list[LocalServer]
) -> None:
    app = first_start(repo)
    async with app.run_test(size=SIZE) as pilot:
        await onboarding_shown(pilot)
        await pilot.click("#onboarding-servers", offset=(4, 1))  # the first option
        await until(pilot, lambda: app.conversation is not None)
        assert tomllib.loads(user_config_file().read_text())["model"] == "openai/scripted:latest"
