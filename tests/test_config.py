"""Settings layering and model choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, Settings, choose_model, load_settings, user_config_file


def write_user_config(text: str) -> None:
    path = user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings == Settings()
    assert settings.approval == "ask"


def test_each_layer_overrides_the_one_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_user_config('model = "user/model"\napproval = "ask"\nmax_turns = 10\nmax-cost = 1.0\n')
    (tmp_path / ".shipmate.toml").write_text(
        'approval = "read-only"\nmax_turns = 5\nmax_cost = 0.5\nmap_tokens = 512\n'
    )
    settings = load_settings(tmp_path)
    assert (settings.approval, settings.max_turns, settings.max_cost) == ("read-only", 5, 0.5)
    assert settings.map_tokens == 512
    assert settings.notices == []
    monkeypatch.setenv("SHIPMATE_MAX_TURNS", "30")
    monkeypatch.setenv("SHIPMATE_MAX_COST", "3.5")
    settings = load_settings(tmp_path, {"max_cost": 4.0, "model": None, "approval": "auto-edit"})
    assert settings.model == "user/model"
    assert settings.approval == "auto-edit"
    assert settings.max_turns == 30
    assert settings.max_cost == 4.0


def test_a_project_file_only_tightens_limits(tmp_path: Path) -> None:
    write_user_config('approval = "read-only"\nmax_turns = 3\ncommand_timeout = 60\n')
    (tmp_path / ".shipmate.toml").write_text(
        'approval = "ask"\nmax_turns = 100000\nmax_cost = 50.0\ncommand_timeout = 30\n'
        "command_memory_mb = 999999\ncommand_max_processes = 100000\nmax_retries = 20\n"
    )
    settings = load_settings(tmp_path)
    assert settings.approval == "read-only"
    assert settings.max_turns == 3
    assert settings.max_cost == 50.0  # the user set no cost limit: any limit tightens
    assert settings.command_timeout == 30
    assert settings.command_memory_mb == Settings().command_memory_mb
    assert settings.command_max_processes == Settings().command_max_processes
    assert settings.max_retries == Settings().max_retries
    (notice,) = settings.notices
    assert "max_turns = 100000 (yours: 3)" in notice and 'approval = "ask"' in notice


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    (tmp_path / ".shipmate.toml").write_text("approval = \n")
    with pytest.raises(ConfigError, match=r"\.shipmate\.toml could not be read"):
        load_settings(tmp_path)
    (tmp_path / ".shipmate.toml").write_text('aproval = "ask"\n')
    with pytest.raises(ConfigError, match="'aproval' is not a setting"):
        load_settings(tmp_path)


def test_a_bad_value_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_user_config('approval = "yolo"\n')
    with pytest.raises(ConfigError, match=r"config\.toml.*approval"):
        load_settings(tmp_path)
    write_user_config("")
    monkeypatch.setenv("SHIPMATE_MAX_TURNS", "many")
    with pytest.raises(ConfigError, match=r"environment variable: SHIPMATE_MAX_TURNS .*\"many\""):
        load_settings(tmp_path)
    monkeypatch.delenv("SHIPMATE_MAX_TURNS")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"max_turns": 0, "max_cost": 0})
    message = str(caught.value)
    assert message.startswith("Invalid flag: --max-turns should be greater than or equal to 1")
    assert "--max-cost should be greater than 0" in message
    assert "settings" not in message


def test_unknown_keys_get_a_guess_and_the_list_once(tmp_path: Path) -> None:
    write_user_config('max_turn = 3\nmodle = "x"\n[sandbox]\nhome_alow = []\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    message = str(caught.value)
    assert "'max_turn' is not a setting (did you mean 'max_turns'?)" in message
    assert "'modle' is not a setting (did you mean 'model'?)" in message
    assert "'sandbox.home_alow' is not a setting (did you mean 'sandbox.home_allow'?)" in message
    assert message.count("The settings are:") == 1
    assert message.count("command_timeout") == 1


def test_model_is_chosen_from_the_keys_present() -> None:
    assert choose_model(Settings(), {"OPENAI_API_KEY": "x"}) == "openai/gpt-5"
    both = {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"}
    assert choose_model(Settings(), both) == "anthropic/claude-sonnet-4-5"
    assert (
        choose_model(Settings(model="gemini/gemini-2.5-flash"), both) == "gemini/gemini-2.5-flash"
    )


def test_local_server_models_get_the_openai_prefix() -> None:
    settings = Settings(model="llama3", api_base="http://localhost:11434/v1")
    assert choose_model(settings, {}) == "openai/llama3"
    settings = Settings(model="ollama/llama3", api_base="http://localhost:11434")
    assert choose_model(settings, {}) == "ollama/llama3"


def test_no_model_and_no_key_says_what_to_do() -> None:
    with pytest.raises(ConfigError) as caught:
        choose_model(Settings(), {})
    message = str(caught.value)
    assert "ANTHROPIC_API_KEY" in message and "GEMINI_API_KEY" in message
    assert "--api-base" in message
    with pytest.raises(ConfigError, match="--model"):
        choose_model(Settings(api_base="http://localhost:8080/v1"), {})


@pytest.mark.parametrize(
    "line",
    [
        'approval = "full-auto"',
        'approval = "auto-edit"',
        "allow_network = true",
        "dangerously-no-sandbox = true",
        'pass_env = ["AWS_SECRET_ACCESS_KEY"]',
    ],
)
def test_a_repository_cannot_grant_itself_permissions(tmp_path: Path, line: str) -> None:
    (tmp_path / ".shipmate.toml").write_text(line + "\n")
    with pytest.raises(ConfigError, match="cannot grant itself permissions"):
        load_settings(tmp_path)


def test_the_user_may_grant_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_user_config('approval = "full-auto"\nallow_network = true\n')
    monkeypatch.setenv("SHIPMATE_PASS_ENV", "DATABASE_URL, REDIS_URL")
    settings = load_settings(tmp_path)
    assert settings.approval == "full-auto"
    assert settings.allow_network
    assert settings.pass_env == ["DATABASE_URL", "REDIS_URL"]


def test_the_command_line_offers_every_approval_mode() -> None:
    from typing import get_args

    from agent.cli import APPROVAL_CHOICES
    from agent.config import ApprovalMode

    assert get_args(ApprovalMode) == APPROVAL_CHOICES


def test_a_config_folder_under_a_file_is_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``XDG_CONFIG_HOME`` (or HOME) pointing under a regular file: nothing to read, and
    nothing the user could "fix or remove"."""
    from agent.policy.rules import RuleBook

    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "afile" / "cfg"))
    ws = tmp_path / "ws"
    ws.mkdir()
    assert load_settings(ws).approval == "ask"
    assert RuleBook(ws).rules == []


def test_flags_are_checked_alone_and_api_base_is_a_url() -> None:
    from agent.config import check_flags

    with pytest.raises(ConfigError, match=r"--api-base should start with http:// or https://"):
        check_flags({"api_base": "localhost:11434"})
    with pytest.raises(ConfigError, match=r"--max-cost should be a finite number"):
        check_flags({"max_cost": float("inf")})
    check_flags({"api_base": "http://localhost:11434/v1", "max_cost": 2.5, "model": None})


def test_compact_at_is_off_or_at_least_half(tmp_path: Path) -> None:
    """A project file (or a slip) cannot make nearly every call a summary call."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".shipmate.toml").write_text("compact_at = 0.05\n")
    with pytest.raises(ConfigError, match=r"compact_at should be 0 \(off\) or between 0.5"):
        load_settings(ws)
    assert Settings(compact_at=0).compact_at == 0
    assert Settings(compact_at=0.5).compact_at == 0.5
