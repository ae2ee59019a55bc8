"""Settings, layered: defaults < user TOML < project TOML < SHIPMATE_* environment < flags.

The layers are merged here in that order, so the precedence is visible in one place; each
layer is validated on its own first so an error names the file or variable to fix.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from agent import keys
from agent.mcp.config import McpSettings

ApprovalMode = Literal["read-only", "ask", "auto-edit", "full-auto"]
PROJECT_FILE = ".shipmate.toml"
# Limits a project file may lower, but never raise above the user's own (or default) value.
TIGHTEN_ONLY = (
    "max_turns",
    "max_cost",
    "command_timeout",
    "request_timeout",
    "max_retries",
    "command_memory_mb",
    "command_max_processes",
    "map_tokens",
    "compact_at",
    "auto_test_rounds",
)
# What a repository's own file may set at all; everything else (permissions, the model and
# the server that get your code and key, the sandbox, test_command, which chooses what runs,
# auto_test, which runs it on its own, and context_window, which describes the model you
# chose) is the user's alone.
PROJECT_ALLOWED = ("approval", *TIGHTEN_ONLY)
# The largest repo map chosen by model size, when map_tokens is not set.
MAP_TOKENS_CEILING = 4096
# Settings that are tables, not values: no SHIPMATE_* variable sets them.
SECTIONS = ("sandbox", "mcp")
APPROVAL_ORDER: tuple[ApprovalMode, ...] = ("read-only", "ask", "auto-edit", "full-auto")

# Picked, in this order, when no model is configured and the provider's key is present.
DEFAULT_MODELS: list[tuple[str, str]] = [
    ("ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "openai/gpt-5"),
    ("GEMINI_API_KEY", "gemini/gemini-2.5-pro"),
    ("OPENROUTER_API_KEY", "openrouter/anthropic/claude-sonnet-4.5"),
    ("DEEPSEEK_API_KEY", "deepseek/deepseek-chat"),
]


class ConfigError(Exception):
    """A problem the user must fix; the message says what to do."""


class NoModel(ConfigError):
    """No model is configured and no key chooses one: a first start, which the app answers
    with its onboarding screen rather than an error."""


class SandboxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home_allow: list[str] = Field(
        [],
        description="Folders or files of your home commands may read (relative to ~), "
        "besides the toolchains Shipmate lets them see",
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None, description="litellm model string, e.g. anthropic/claude-sonnet-4-5"
    )
    api_base: str | None = Field(None, description="Base URL of an OpenAI-compatible server")
    approval: ApprovalMode = Field("ask", description="What runs without asking")
    max_turns: int = Field(100, ge=1, description="Model calls per task before stopping")
    max_cost: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="US dollars per task before stopping"
    )
    input_cost_per_mtok: float | None = Field(
        None, ge=0, description="US dollars per million input tokens (over litellm's prices)"
    )
    output_cost_per_mtok: float | None = Field(
        None, ge=0, description="US dollars per million output tokens (over litellm's prices)"
    )
    command_timeout: float = Field(300.0, gt=0, description="Seconds before a command is killed")
    test_command: str | None = Field(
        None, description="The command run_tests runs (unset: detected from the project)"
    )
    auto_commit: bool | None = Field(
        None,
        description="Commit the agent's changes at the end of each turn that made some "
        "(unset: off in run, on in the interactive front-ends)",
    )
    branch: str | None = Field(None, description="Start the work on this new git branch")
    auto_test: bool = Field(
        False,
        description="After a turn that changed files, run the tests and give new failures back "
        "to the model",
    )
    auto_test_rounds: int = Field(
        3, ge=0, le=20, description="Fix rounds auto-test gives the model in one turn"
    )
    theme: str = Field(
        "auto",
        description="The app's colours: auto (light when the terminal says its background "
        "is), dark, light, or a Textual theme's name",
    )
    request_timeout: float = Field(300.0, gt=0, description="Seconds to wait on the model API")
    max_retries: int = Field(5, ge=0, le=20, description="Retries of a failed model call")
    allow_network: bool = Field(False, description="Let sandboxed commands reach the network")
    dangerously_no_sandbox: bool = Field(
        False, description="Run commands without the sandbox, as the approval mode allows"
    )
    command_memory_mb: int = Field(8192, ge=64, description="Memory limit of a command")
    command_max_processes: int = Field(1024, ge=8, description="Process limit of a command")
    pass_env: list[str] = Field([], description="Extra environment variables commands see")
    map_tokens: int | None = Field(
        None, ge=0, description="Repo map size in the first message (0: none; unset: by model)"
    )
    index_max_files: int = Field(
        50_000, ge=1, description="Outside git, the most files a folder may hold to be indexed"
    )
    context_window: int | None = Field(
        None, ge=1024, description="Input tokens the model accepts (unset: litellm's figure)"
    )
    compact_at: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Compact the history when a request would fill this share of the window "
        "(0: never by itself)",
    )
    sandbox: SandboxOptions = Field(default_factory=SandboxOptions)
    mcp: McpSettings = Field(default_factory=McpSettings)
    mcp_startup_timeout: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Seconds a session waits for its MCP servers before going on without "
        "those not ready",
    )
    _notices: list[str] = PrivateAttr(default_factory=list)

    @property
    def notices(self) -> list[str]:
        """What the user should know about how the settings were merged."""
        return self._notices

    @property
    def prices(self) -> tuple[float, float] | None:
        """The user's prices (input, output per million tokens), when both are set."""
        if self.input_cost_per_mtok is None or self.output_cost_per_mtok is None:
            return None
        return self.input_cost_per_mtok, self.output_cost_per_mtok

    @field_validator("api_base")
    @classmethod
    def _a_url(cls, value: str | None) -> str | None:
        """``localhost:11434`` would be read as a path by the HTTP client: minutes of retries
        of a 500 that never happened, instead of this sentence."""
        if value is not None and not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError(
                "should start with http:// or https://, e.g. http://localhost:11434/v1"
            )
        return value.strip() if value is not None else None

    @field_validator("compact_at")
    @classmethod
    def _off_or_half(cls, value: float) -> float:
        """Below half the window, nearly every call would be a summary call: more cost, and
        less of the user's own words kept (a hostile project file could aim at that)."""
        if 0 < value < 0.5:
            raise ValueError("should be 0 (off) or between 0.5 and 1")
        return value

    @field_validator("pass_env", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        """SHIPMATE_PASS_ENV is a comma-separated list."""
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value


def user_config_file() -> Path:
    return platformdirs.user_config_path("shipmate") / "config.toml"


def user_instructions_file() -> Path:
    """The user's standing instructions for every project (XDG-aware, beside config.toml)."""
    return platformdirs.user_config_path("shipmate") / "AGENTS.md"


def data_dir() -> Path:
    return platformdirs.user_data_path("shipmate")


def check_flags(flags: dict[str, Any]) -> None:
    """Command-line values alone, before any file is read: a bad one is a usage error."""
    _checked({key: value for key, value in flags.items() if value is not None}, "flag", _flag)


def load_settings(workspace: Path, flags: dict[str, Any] | None = None) -> Settings:
    """The settings in effect for ``workspace``; ``flags`` are command-line values."""
    merged = _read_toml(user_config_file())
    project_file = workspace / PROJECT_FILE
    # A project's MCP servers are declarations that wait for trust (agent.mcp.config).
    declared = _read_toml(project_file, keep_out=("mcp",))
    project, notices = _tightened(_project_settings(declared, project_file), merged, project_file)
    merged.update(project)
    from_env = {
        name: os.environ[f"SHIPMATE_{name.upper()}"]
        for name in Settings.model_fields
        if name not in SECTIONS and os.environ.get(f"SHIPMATE_{name.upper()}")
    }
    merged.update(_checked(from_env, "environment variable", _variable))
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    merged.update(_checked(given, "flag", _flag))
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_explain(error, "settings")) from None
    if (settings.input_cost_per_mtok is None) != (settings.output_cost_per_mtok is None):
        # One price alone would count the other side as free and let a budget overrun.
        raise ConfigError(
            "Set both input_cost_per_mtok and output_cost_per_mtok (US dollars per million "
            "tokens), or neither."
        )
    settings.notices.extend(notices)
    return settings


def project_approval(workspace: Path) -> ApprovalMode | None:
    """The widest approval mode ``workspace``'s own file allows (its ``approval``), if it
    sets one: the TUI says so when the user's explicit choice goes past it."""
    try:
        value = _read_toml(workspace / PROJECT_FILE).get("approval")
    except ConfigError:
        return None  # said when the settings were read
    return value if value in APPROVAL_ORDER else None


def _tightened(
    project: dict[str, Any], user: dict[str, Any], path: Path
) -> tuple[dict[str, Any], list[str]]:
    """The project's values, each limit no looser than the user's (or the default), and an
    approval mode no wider; a value that would loosen is dropped and named in a notice."""
    own = Settings.model_validate(user)
    theirs = Settings.model_validate(project)  # values as numbers, whatever TOML type they had
    kept = dict(project)
    dropped: list[str] = []
    for name in TIGHTEN_ONLY:
        if name not in project:
            continue
        limit = getattr(own, name)
        if limit is None and name == "map_tokens":
            limit = MAP_TOKENS_CEILING
        value = getattr(theirs, name)
        if limit is not None and _looser(name, value, limit):
            dropped.append(f"{name} = {_shown(project[name])} (yours: {_shown(limit)})")
            del kept[name]
    approval = project.get("approval")
    if approval is not None and APPROVAL_ORDER.index(approval) > APPROVAL_ORDER.index(own.approval):
        dropped.append(f"approval = {_shown(approval)} (yours: {_shown(own.approval)})")
        del kept["approval"]
    notices = []
    if dropped:
        notices.append(
            f"{path} tried to loosen your settings and was ignored for: {', '.join(dropped)}. "
            "A project file may only tighten them."
        )
    return kept, notices


def _looser(name: str, value: Any, limit: Any) -> bool:
    """Whether a project's ``value`` would loosen the user's ``limit``; compact_at 0 means
    never compacting, the loosest value there is."""
    if name == "compact_at":
        return limit != 0 and (value == 0 or value > limit)
    return value is None or value > limit


def _project_settings(values: dict[str, Any], path: Path) -> dict[str, Any]:
    """A repository's own file must not grant itself permissions, nor choose where your code
    and key go: someone else wrote it."""
    granted = [name for name in values if name not in PROJECT_ALLOWED]
    if values.get("approval") not in (None, "read-only", "ask"):
        granted.append(f"approval = {_shown(values['approval'])}")
    if granted:
        raise ConfigError(
            f"{path} may not set {', '.join(granted)}: a repository cannot grant itself "
            "permissions or choose the model; it may only tighten your limits and approval. "
            "Set it in your user config, a SHIPMATE_* environment variable or a flag instead."
        )
    return values


def _read_toml(path: Path, keep_out: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (FileNotFoundError, NotADirectoryError):  # no such file, its folder a file
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path} could not be read: {error}. Fix or remove it.") from None
    data = {key: value for key, value in data.items() if key not in keep_out}
    return _checked(data, f"configuration in {path}")


def _checked(
    values: dict[str, Any], where: str, name: Callable[[str], str] = str
) -> dict[str, Any]:
    """Validate one layer alone so an unknown key or a bad value names its source, the way
    the user wrote it there (``name``: a flag, a variable or a key)."""
    values = {key.replace("-", "_"): value for key, value in values.items()}
    try:
        Settings.model_validate(values)
    except ValidationError as error:
        raise ConfigError(_explain(error, where, name)) from None
    return values


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _variable(name: str) -> str:
    return f"SHIPMATE_{name.upper()}"


def _explain(error: ValidationError, where: str, name: Callable[[str], str] = str) -> str:
    """One sentence per problem; unknown keys get a "did you mean", and the known keys are
    listed once at the end."""
    problems = []
    unknown = False
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "settings"
        if item["type"] == "extra_forbidden":
            unknown = True
            guess = difflib.get_close_matches(key, _known_keys(), n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else ""
            problems.append(f"'{key}' is not a setting{hint}")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            message = message.removeprefix("Input ").removeprefix("Value ")
            problems.append(f"{name(key)} {message} (got {_shown(item.get('input'))})")
    text = f"Invalid {where}: " + "; ".join(problems) + "."
    if unknown:
        text += f" The settings are: {', '.join(_known_keys())}."
    return text


def _known_keys() -> list[str]:
    """Every setting, those of a section written as ``section.key``."""
    top = [key for key in Settings.model_fields if key not in SECTIONS]
    return top + [f"sandbox.{key}" for key in SandboxOptions.model_fields] + ["mcp.servers"]


def _shown(value: Any) -> str:
    """A value as the user would write it in TOML or on the command line, not a Python repr."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def choose_model(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """The model to use: the configured one, else one whose API key is present."""
    if environ is None:
        environ = {name: keys.get(name) or "" for name, _ in DEFAULT_MODELS}
    if settings.model:
        model = settings.model.strip()
        if settings.api_base and "/" not in model:
            model = f"openai/{model}"
        return model
    if settings.api_base:
        raise ConfigError(
            "--api-base is set but no model is: pass --model NAME (the name your server "
            "serves, e.g. --model qwen2.5-coder)."
        )
    for variable, model in DEFAULT_MODELS:
        if environ.get(variable):
            return model
    names = ", ".join(variable for variable, _ in DEFAULT_MODELS)
    raise NoModel(
        f"No model is configured and no API key was found. Set one of {names} "
        "(or pass --model with any litellm model string); for a local server "
        "(Ollama, llama.cpp, vLLM, LM Studio) pass --api-base URL --model NAME, "
        "e.g. --api-base http://localhost:11434/v1 --model qwen2.5-coder."
    )
