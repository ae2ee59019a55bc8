"""A first start with no model configured: which keys Shipmate looks for, which local model
servers run on their usual ports, and the user's choice written to their config file.

The choice is written into the file the user may have edited by hand, so only the two
top-level keys change and every other line (comments, tables) stays as it was. A key is
never written: keys live in the environment only.
"""

from __future__ import annotations

import http.client
import itertools
import re
import stat
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from agent import keys, probe
from agent.config import DEFAULT_MODELS, ConfigError, Settings, user_config_file
from agent.storage import replace_file

PROBE_TIMEOUT = 0.7  # seconds; a server on this machine answers in milliseconds
# What a pasted key starts with (Anthropic, OpenAI, Google, Groq, xAI): never a model name.
KEY_PREFIXES = ("sk-", "sk_", "AIza", "gsk_", "xai-")
_HEADER = re.compile(r"\s*\[")
_KEY = re.compile(r"""\s*(?:"(\w+)"|'(\w+)'|(\w+))\s*=""")


@dataclass(frozen=True)
class LocalServer:
    """A model server at its usual address (``root``): Ollama lists its models with its own
    API, the others with OpenAI's; all serve the OpenAI-compatible API under ``/v1``."""

    name: str
    root: str
    listing: Literal["ollama", "openai"] = "openai"

    @property
    def api_base(self) -> str:
        return self.root + "/v1"

    @property
    def models_url(self) -> str:
        return self.root + ("/api/tags" if self.listing == "ollama" else "/v1/models")


LOCAL_SERVERS: list[LocalServer] = [
    LocalServer("Ollama", "http://localhost:11434", "ollama"),
    LocalServer("LM Studio", "http://localhost:1234"),
    LocalServer("llama.cpp", "http://localhost:8080"),
]


@dataclass(frozen=True)
class Found:
    """A server that answered with its model list; ``models`` as it names them."""

    server: LocalServer
    models: list[str]


@dataclass(frozen=True)
class KeyStatus:
    variable: str
    model: str  # the model the key chooses
    present: bool


class _OllamaModel(BaseModel):
    name: str


class _OllamaTags(BaseModel):
    models: list[_OllamaModel]


class _OpenAIModel(BaseModel):
    id: str


class _ModelList(BaseModel):
    data: list[_OpenAIModel]


def keys_looked_for() -> list[KeyStatus]:
    """The keys that choose a model, in the order they are tried, and whether each is set."""
    return [KeyStatus(name, model, bool(keys.get(name))) for name, model in DEFAULT_MODELS]


def detect(servers: list[LocalServer] | None = None, timeout: float = PROBE_TIMEOUT) -> list[Found]:
    """The servers that answer with a model list, all asked at once (in their order)."""
    servers = LOCAL_SERVERS if servers is None else servers
    if not servers:
        return []
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        answers = list(pool.map(lambda server: _models(server, timeout), servers))
    found = zip(servers, answers, strict=True)
    return [Found(server, models) for server, models in found if models is not None]


def _models(server: LocalServer, timeout: float) -> list[str] | None:
    """The server's model names, or None when nothing answers as this server would: not
    listening, an error status, a redirect, or anything but its JSON model list."""
    try:
        body = probe.get(server.models_url, timeout, {"Accept": "application/json"})
    except (OSError, http.client.HTTPException, ValueError):
        return None
    try:
        if server.listing == "ollama":
            return [model.name for model in _OllamaTags.model_validate_json(body).models]
        return [model.id for model in _ModelList.model_validate_json(body).data]
    except ValidationError:
        return None


def with_choice(settings: Settings, model: str, api_base: str | None = None) -> Settings:
    """``settings`` with the model the user chose (and its server, or none for a cloud
    model); ConfigError says what is wrong with the choice."""
    model = model.strip()
    api_base = (api_base or "").strip() or None
    if not model:
        raise ConfigError("Type a model (a litellm model string such as openai/gpt-5).")
    for given in (model, api_base or ""):
        if given.startswith(KEY_PREFIXES) or keys.redact(given) != given:
            raise ConfigError(
                "That looks like an API key, and Shipmate never stores one: export it in your "
                "shell (e.g. export ANTHROPIC_API_KEY=…) and start shipmate again."
            )
    if any(character.isspace() or not character.isprintable() for character in model):
        raise ConfigError("A model string has no spaces: e.g. anthropic/claude-sonnet-4-5.")
    try:
        Settings.model_validate({"model": model, "api_base": api_base})
    except ValidationError:
        raise ConfigError(
            "The API base should be a URL starting with http:// or https://, e.g. "
            "http://localhost:11434/v1."
        ) from None
    return settings.model_copy(update={"model": model, "api_base": api_base})


def save_choice(model: str, api_base: str | None, path: Path | None = None) -> Path:
    """Set ``model`` and ``api_base`` (removed when None) in the user's config file, keeping
    everything else in it; written atomically, a new file readable by the user alone."""
    path = user_config_file() if path is None else path
    target = path.resolve()  # a symlinked config (dotfiles) is written through, not replaced
    try:
        text = target.read_text(encoding="utf-8")
        mode = stat.S_IMODE(target.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):  # no file yet (or its folder a file)
        text, mode = "", 0o600
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} could not be read: {error}. Fix or remove it.") from None
    updated = set_top_level(text, {"model": model, "api_base": api_base}, path)
    try:
        replace_file(target, updated, mode)
    except OSError as error:
        raise ConfigError(
            f"{path} could not be written ({error.strerror or error}): set model there "
            "yourself, or pass --model."
        ) from None
    return path


def set_top_level(text: str, values: dict[str, str | None], path: Path) -> str:
    """The TOML document ``text`` with these top-level string keys set (or removed when
    None): each replaced where it stands, a new one after the last top-level key (before the
    first table), every other line untouched."""
    _parsed(text, path)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    written = {
        name: f"{name} = {toml_string(value)}{newline}"
        for name, value in values.items()
        if value is not None
    }
    statements, _ = _top_level(lines)
    placed: set[str] = set()
    for start, stop in reversed(statements):  # from the end, so earlier lines keep their place
        name = _key_of(lines[start])
        if name in values:
            lines[start:stop] = [written[name]] if name in written else []
            placed.add(name)
    new = [line for name, line in written.items() if name not in placed]
    if new:
        statements, end = _top_level(lines)
        if statements:
            at = statements[-1][1]
        else:  # before the comment lines that head the first table
            at = end
            while 0 < at < len(lines) and lines[at - 1].lstrip().startswith("#"):
                at -= 1
        if at < len(lines) and lines[at].strip():
            new.append(newline)  # a blank line before the table (or the line) that follows
        lines[at:at] = new
    result = "".join(lines)
    parsed = _parsed(result, path)
    if any(parsed.get(name) != value for name, value in values.items()):
        raise ConfigError(f"{path} could not be updated safely: set model there yourself.")
    return result


def _top_level(lines: list[str]) -> tuple[list[tuple[int, int]], int]:
    """The top-level statements (their first line and the line after them) and the line of
    the first table header (or the end). A statement can only start where the lines before
    it form a whole document: inside a multi-line string or array they do not."""
    starts = [i for i in range(len(lines) + 1) if _whole(lines[:i])]
    end = next((i for i in starts if i < len(lines) and _HEADER.match(lines[i])), len(lines))
    statements = [
        (start, stop)
        for start, stop in itertools.pairwise(starts)
        if stop <= end and lines[start].strip() and not lines[start].lstrip().startswith("#")
    ]
    return statements, end


def _key_of(line: str) -> str | None:
    match = _KEY.match(line)
    return next((group for group in match.groups() if group), None) if match else None


def _whole(lines: list[str]) -> bool:
    try:
        tomllib.loads("".join(lines))
    except tomllib.TOMLDecodeError:
        return False
    return True


def _parsed(text: str, path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} could not be read: {error}. Fix or remove it.") from None


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for character in value:
        if character in '"\\':
            out.append("\\" + character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            out.append(f"\\u{ord(character):04x}")
        else:
            out.append(character)
    return '"' + "".join(out) + '"'
