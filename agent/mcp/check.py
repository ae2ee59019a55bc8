"""Start servers as a session would, see what they offer, and stop them: for
``shipmate mcp test`` and ``shipmate doctor``.

The servers start together and the wait for them is bounded (the settings'
``mcp_startup_timeout``), so a hanging server costs that time once, not once per server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.mcp.config import Declared
from agent.mcp.connection import Connection
from agent.mcp.tools import SchemaProblem, tool_class

if TYPE_CHECKING:
    from mcp_types import Prompt, Resource

CHARS_PER_TOKEN = 4  # a rough figure: the command must not import a tokenizer (litellm)
LOG_LINES = 5


@dataclass
class Offered:
    """One of a server's tools as the model would get it."""

    name: str  # its name on the server
    kind: str  # read, execute or destructive
    size: int  # characters of its description and schema, sent with every request
    description: str
    left_out: str = ""  # why it is not offered (allow-list, a schema that cannot be fixed)


@dataclass
class Checked:
    """A server after its start: ready, failed (``problem``) or not ready in time."""

    declared: Declared
    state: str
    problem: str = ""
    seconds: float = 0.0
    tools: list[Offered] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # what it wrote to stderr this time

    @property
    def offered(self) -> list[Offered]:
        return [tool for tool in self.tools if not tool.left_out]

    @property
    def tokens(self) -> int:
        return sum(tool.size for tool in self.offered) // CHARS_PER_TOKEN

    def sentence(self, timeout: float) -> str:
        """Its state in a few words, for a list."""
        if self.state == "ready":
            count = len(self.offered)
            return (
                f"ready with {count} tool{'s' if count != 1 else ''} "
                f"(~{self.tokens:,} tokens per request)"
            )
        if self.state == "failed":
            return f"failed: {self.problem.removeprefix('failed: ')}"
        return f"not ready after {timeout:g} s (a session goes on without it)"


async def check(
    items: list[Declared], workspace: Path, log_dir: Path, timeout: float
) -> list[Checked]:
    """Start ``items`` together, wait at most ``timeout`` seconds, stop them all."""
    if not items:
        return []
    await asyncio.to_thread(importlib.import_module, "mcp")  # ours to wait for, not theirs
    connections = [Connection(item, workspace, log_dir) for item in items]
    sizes = [_size(connection.log_path) for connection in connections]
    began = time.monotonic()
    for connection in connections:
        connection.start()

    async def settled(connection: Connection) -> float:
        await connection.wait(max(0.0, timeout - (time.monotonic() - began)))
        return time.monotonic() - began

    try:
        seconds = await asyncio.gather(*(settled(connection) for connection in connections))
        found = [_checked(c, s) for c, s in zip(connections, seconds, strict=True)]
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    for item, connection, size in zip(found, connections, sizes, strict=True):
        if item.state != "ready":
            item.log = _tail(connection.log_path, size)
    return found


def _checked(connection: Connection, seconds: float) -> Checked:
    found = Checked(
        declared=connection.declared,
        state=connection.state,
        problem=connection.problem,
        seconds=seconds,
    )
    if connection.state != "ready":
        return found
    allowed = connection.declared.server.tools
    for remote in connection.tools:
        hints = remote.annotations
        read_only = bool(hints and hints.read_only_hint)
        kind = "read" if read_only else "execute"
        if hints and hints.destructive_hint and not read_only:
            kind = "destructive"
        description = " ".join((remote.description or remote.title or "").split())
        offered = Offered(remote.name, kind, 0, description)
        if allowed is not None and remote.name not in allowed:
            offered.left_out = "not in its tools list"
        else:
            try:
                spec = tool_class(connection, remote).spec()
                offered.size = len(json.dumps(spec["function"], ensure_ascii=False))
            except SchemaProblem as problem:
                offered.left_out = str(problem)
        found.tools.append(offered)
    found.prompts = list(connection.prompts)
    found.resources = list(connection.resources)
    return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, start: int) -> list[str]:
    """The last lines a server wrote to its log since ``start`` (its own words on a failed
    start), at most LOG_LINES of them."""
    with contextlib.suppress(OSError), path.open("rb") as handle:
        handle.seek(max(start, _size(path) - 64_000))
        text = handle.read().decode("utf-8", "replace")
        return [line.rstrip()[:300] for line in text.splitlines() if line.strip()][-LOG_LINES:]
    return []
