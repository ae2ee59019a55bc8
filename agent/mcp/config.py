"""Which MCP servers a session has, and where each was declared.

The user's servers are ``[mcp.servers.NAME]`` tables of the user config. A repository may
declare servers too (its ``.shipmate.toml``, or a ``.mcp.json`` as other tools read), but a
stdio server is a program that runs as the user, outside the sandbox: those wait for the
user's trust (see ``trust``). An editor (ACP) may hand servers to a session as well.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Source = Literal["user", "project", "editor"]
Approval = Literal["default", "ask", "allow"]
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# The file other agents (Claude Code, Cursor, …) read a project's servers from.
MCP_JSON = ".mcp.json"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class McpServer(BaseModel):
    """One server: a command (stdio) or a URL (streamable HTTP, or SSE)."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(None, description="The program that runs the server (stdio)")
    args: list[str] = Field([], description="Its arguments")
    env: dict[str, str] = Field(
        {}, description="Environment variables it gets besides PATH, HOME, LANG and the like"
    )
    url: str | None = Field(None, description="The server's URL (streamable HTTP or SSE)")
    headers: dict[str, str] = Field({}, description="HTTP headers sent with every request")
    transport: Literal["stdio", "http", "sse"] | None = Field(
        None, description="stdio for a command, http (the default for a URL) or sse"
    )
    enabled: bool = Field(True, description="Start it with every session")
    timeout: float = Field(60.0, gt=0, description="Seconds a tool call may take")
    tools: list[str] | None = Field(None, description="Only these tools (unset: all of them)")
    approval: Approval = Field(
        "default",
        description="default: read-only tools run unasked and the rest ask; ask: every tool "
        "asks; allow: every tool runs unasked but those marked destructive",
    )

    @model_validator(mode="after")
    def _one_way_to_reach_it(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a program to run) or url (a server to reach)")
        if self.command is not None and self.transport not in (None, "stdio"):
            raise ValueError(f"transport {self.transport} needs a url, not a command")
        if self.url is not None:
            if self.transport == "stdio":
                raise ValueError("transport stdio needs a command, not a url")
            if not self.url.lower().startswith(("http://", "https://")):
                raise ValueError("url should start with http:// or https://")
        return self

    @property
    def kind(self) -> Literal["stdio", "http", "sse"]:
        if self.command is not None:
            return "stdio"
        return self.transport or "http"

    def launch(self) -> dict[str, Any]:
        """What starts or reaches it: a change here is a different server to trust."""
        return {
            "command": self.command,
            "args": self.args,
            "env": self.env,
            "url": self.url,
            "headers": self.headers,
            "transport": self.kind,
        }

    def identity(self) -> str:
        text = json.dumps(self.launch(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def shown(self) -> str:
        """The command line or the URL, as a person would check it."""
        if self.command is not None:
            return shlex.join([self.command, *self.args])
        return f"{self.url} ({self.kind})"


class McpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: dict[str, McpServer] = Field({}, description="MCP servers by name")

    @model_validator(mode="after")
    def _names(self) -> McpSettings:
        for name in self.servers:
            if problem := name_problem(name):
                raise ValueError(problem)
        return self


def name_problem(name: str) -> str | None:
    if NAME.fullmatch(name) and "__" not in name:
        return None
    return (
        f"the MCP server name {name!r} should be letters, digits, - and _ (no __), at most 32 "
        "characters, such as 'github'"
    )


class Declared(BaseModel):
    """A server as a session knows it: its name, its settings and who declared it."""

    name: str
    server: McpServer
    source: Source
    where: str = ""  # the file that declared it


def expanded(
    values: dict[str, str], lookup: Callable[[str], str | None]
) -> tuple[dict[str, str], list[str]]:
    """``${NAME}`` replaced by ``lookup(NAME)``, as other MCP clients do (the lookup never
    gives a model's API key). Returns the values and the names left empty."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        found = lookup(match.group(1))
        if found is None:
            missing.append(match.group(1))
            return ""
        return found

    return {key: _VARIABLE.sub(value, text) for key, text in values.items()}, missing


def project_servers(workspace: Path) -> tuple[list[Declared], list[str]]:
    """The servers ``workspace`` declares (``.shipmate.toml``, then ``.mcp.json``) and what
    was wrong with the declarations, one sentence each. Nothing here starts them."""
    found: list[Declared] = []
    problems: list[str] = []
    toml_file = workspace / ".shipmate.toml"
    try:
        with toml_file.open("rb") as handle:
            table = tomllib.load(handle).get("mcp", {})
    except (OSError, tomllib.TOMLDecodeError):
        table = {}  # the settings loader says what is wrong with this file
    servers = table.get("servers", {}) if isinstance(table, dict) else {}
    found += _declared(servers, "project", toml_file, problems, strict=True)
    json_file = workspace / MCP_JSON
    try:
        data = json.loads(json_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as error:
        problems.append(f"{json_file} could not be read ({error}); its MCP servers are left out.")
        data = {}
    servers = data.get("mcpServers", {}) if isinstance(data, dict) else {}
    taken = {item.name for item in found}
    found += [
        item
        for item in _declared(servers, "project", json_file, problems, strict=False)
        if item.name not in taken
    ]
    return found, problems


def _declared(
    servers: Any, source: Source, path: Path, problems: list[str], strict: bool
) -> list[Declared]:
    """``servers`` (name → table) as Declared; ``strict``: unknown keys are errors (our own
    file), else other tools' keys are dropped (``type`` read as the transport)."""
    if not isinstance(servers, dict):
        problems.append(f"{path}: the MCP servers should be a table of name = settings.")
        return []
    declared = []
    for name, values in servers.items():
        if problem := name_problem(str(name)):
            problems.append(f"{path}: {problem}; it is left out.")
            continue
        if not isinstance(values, dict):
            problems.append(f"{path}: MCP server {name!r} should be a table; it is left out.")
            continue
        if not strict:
            values = dict(values)
            if values.get("type") in ("stdio", "http", "sse") and "transport" not in values:
                values["transport"] = values["type"]
            if values.get("transport") == "streamable-http":
                values["transport"] = "http"
            values = {key: value for key, value in values.items() if key in McpServer.model_fields}
        try:
            server = McpServer.model_validate(values)
        except ValidationError as error:
            problems.append(f"{path}: MCP server {name!r} {_first(error)}; it is left out.")
            continue
        declared.append(Declared(name=name, server=server, source=source, where=str(path)))
    return declared


def _first(error: ValidationError) -> str:
    item = error.errors()[0]
    where = ".".join(str(part) for part in item["loc"])
    message = str(item["msg"]).removeprefix("Value error, ")
    return f"{where} {message}".strip() if where else message
