"""The user's MCP servers written into their config file, as text.

The file is the user's, edited by hand: a server is added as a ``[mcp.servers.NAME]``
table at its end and removed with its sub-tables (``[mcp.servers.NAME.env]``), every other
line (comments, other tables) kept as it was. The result must parse and hold valid
settings before it replaces the file, atomically and readable by the user alone (a server's
env and headers often carry tokens).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config import ConfigError, Settings, user_config_file
from agent.mcp.config import McpServer
from agent.onboarding import toml_string
from agent.storage import os_reason, replace_file

_HEADER = re.compile(r"\s*\[")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def server_table(name: str, server: McpServer) -> str:
    """The TOML text of one server: its table, then its env and headers tables."""
    lines = [f"[mcp.servers.{_key(name)}]"]
    values = server.model_dump(exclude_defaults=True, exclude={"env", "headers"})
    for key, value in values.items():
        lines.append(f"{key} = {_value(value)}")
    for key in ("env", "headers"):
        table: dict[str, str] = getattr(server, key)
        if table:
            lines += ["", f"[mcp.servers.{_key(name)}.{key}]"]
            lines += [f"{_key(item)} = {toml_string(value)}" for item, value in table.items()]
    return "\n".join(lines) + "\n"


def with_server(text: str, name: str, server: McpServer) -> str:
    """``text`` with the server's table added at the end, after a blank line."""
    newline = "\r\n" if "\r\n" in text else "\n"
    if text and not text.endswith("\n"):
        text += newline
    if text.strip():
        text += newline
    return text + server_table(name, server).replace("\n", newline)


def without_server(text: str, name: str) -> str:
    """``text`` without the server's tables, each from its header to the next header; the
    comments that end a table are left, as they head the table after it."""
    lines = text.splitlines(keepends=True)
    starts = _statement_starts(lines)
    headers = [i for i in starts if i < len(lines) and _HEADER.match(lines[i])]
    cuts = []
    for position, header in enumerate(headers):
        if _header_path(lines[header])[:3] != ["mcp", "servers", name]:
            continue
        stop = headers[position + 1] if position + 1 < len(headers) else len(lines)
        while stop > header + 1 and (not lines[stop - 1].strip() or _comment(lines[stop - 1])):
            stop -= 1
        while stop < len(lines) and stop not in starts:  # a value's last lines stay with it
            stop += 1
        cuts.append((header, stop))
    kept: list[str] = []
    at = 0
    for header, stop in cuts:
        kept += lines[at:header]
        at = stop
        while at < len(lines) and not lines[at].strip() and (not kept or not kept[-1].strip()):
            at += 1  # one blank line between what stays, not two
    kept += lines[at:]
    if cuts and at == len(lines):
        while kept and not kept[-1].strip():
            kept.pop()
    return "".join(kept)


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def add_server(
    name: str, server: McpServer, replace: bool = False, path: Path | None = None
) -> Path:
    """Add ``name`` to the user's config file (``replace``: instead of the one of that name)."""
    path = user_config_file() if path is None else path
    text = _read(path)
    if name in _servers(tomllib.loads(text)):
        if not replace:
            raise ConfigError(
                f"There is already an MCP server '{name}' in {path}: remove it first "
                f"(shipmate mcp remove {name}), or add it again with --replace."
            )
        text = without_server(text, name)
    _save(path, with_server(text, name, server), name, present=True)
    return path


def remove_server(name: str, path: Path | None = None) -> bool:
    """Remove ``name`` from the user's config file; False when it has none of that name."""
    path = user_config_file() if path is None else path
    text = _read(path)
    if name not in _servers(tomllib.loads(text)):
        return False
    _save(path, without_server(text, name), name, present=False)
    return True


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return ""
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} could not be read ({error}): fix or remove it.") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} could not be read ({error}): fix it first.") from None
    return text


def _save(path: Path, text: str, name: str, present: bool) -> None:
    """Check the new text holds the change and valid settings, then replace the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = None
    if data is None or (name in _servers(data)) != present:
        raise ConfigError(
            f"{path} declares its MCP servers in a way Shipmate cannot edit safely: "
            f"{'add' if present else 'remove'} [mcp.servers.{_key(name)}] there yourself."
        )
    try:
        Settings.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"{path} would not hold valid settings after this change ({where}: "
            f"{first['msg']}); fix it first. Nothing was written."
        ) from None
    target = path.resolve()  # a symlinked config (dotfiles) is written through, not replaced
    try:
        replace_file(target, text)
    except OSError as error:
        raise ConfigError(f"{path} could not be written ({os_reason(error)}).") from None


def _servers(data: dict[str, Any]) -> dict[str, Any]:
    mcp = data.get("mcp", {})
    servers = mcp.get("servers", {}) if isinstance(mcp, dict) else {}
    return servers if isinstance(servers, dict) else {}


def _statement_starts(lines: list[str]) -> list[int]:
    """Where a statement can start: where the lines before it form a whole document (not
    inside a multi-line string or array)."""
    starts = []
    for index in range(len(lines) + 1):
        try:
            tomllib.loads("".join(lines[:index]))
        except tomllib.TOMLDecodeError:
            continue
        starts.append(index)
    return starts


def _header_path(line: str) -> list[str]:
    """The keys a table header names (``[mcp.servers."a b".env]`` → mcp, servers, a b, env),
    read by the TOML parser itself so quoting and spacing do not matter."""
    try:
        node: Any = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return []
    path = []
    while isinstance(node, (dict, list)) and node:
        if isinstance(node, list):
            node = node[-1]
            continue
        (key, node) = next(iter(node.items()))
        path.append(key)
    return path


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else toml_string(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return toml_string(str(value))
