"""All of a session's MCP servers: which start, waiting for them, their tools and notices.

Servers start in the background as the session is made; the session's start waits for
them at most ``mcp_startup_timeout`` seconds, and goes on without those not ready (a
notice says which and why; one that comes up later joins with its tools then).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from agent.mcp.config import Declared, project_servers
from agent.mcp.connection import Connection
from agent.mcp.tools import PREFIX, McpTool, SchemaProblem, tool_class
from agent.mcp.trust import TrustBook

if TYPE_CHECKING:
    from agent.config import Settings


def declared_servers(
    settings: Settings, workspace: Path, editor: list[Declared] | None = None
) -> tuple[list[Declared], list[Declared], list[str]]:
    """(servers that may start, the repository's servers waiting for trust, problems)."""
    user = [
        Declared(name=name, server=server, source="user")
        for name, server in settings.mcp.servers.items()
    ]
    project, problems = project_servers(workspace)
    trust = TrustBook(workspace)
    taken = {item.name for item in user}
    trusted, waiting = [], []
    for item in project:
        if item.name in taken:
            continue  # the user's own server of that name wins
        (trusted if trust.trusts(item.name, item.server) else waiting).append(item)
    taken |= {item.name for item in project}
    extra = [item for item in editor or [] if item.name not in taken]
    starting = [item for item in user + trusted + extra if item.server.enabled]
    return starting, waiting, problems


class McpServers:
    def __init__(
        self, settings: Settings, workspace: Path, log_dir: Path, editor: list[Declared] | None
    ) -> None:
        starting, self.waiting, self.problems = declared_servers(settings, workspace, editor)
        self.workspace = workspace
        self.log_dir = log_dir
        self.startup_timeout = settings.mcp_startup_timeout
        self.connections = {item.name: Connection(item, workspace, log_dir) for item in starting}
        self._starter: asyncio.Task[None] | None = None
        # By server: the tools of the server's latest start (its generation), and the tools
        # left out, with why.
        self._tools: dict[str, tuple[int, dict[str, type[McpTool]]]] = {}
        self._skipped: dict[str, list[str]] = {}
        self._told: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.connections or self.waiting or self.problems)

    def start(self) -> None:
        """Start every server in the background (the SDK's import, 1–2 s, in a thread)."""
        if self._starter is not None or not self.connections:
            return

        async def start_all() -> None:
            await asyncio.to_thread(importlib.import_module, "mcp")
            for connection in self.connections.values():
                connection.start()

        self._starter = asyncio.get_running_loop().create_task(start_all())

    async def ready(self) -> None:
        """Wait for the servers, at most the startup timeout (from now)."""
        self.start()
        if not self.connections:
            return
        assert self._starter is not None
        deadline = asyncio.get_running_loop().time() + self.startup_timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._starter), self.startup_timeout)
        left = max(0.0, deadline - asyncio.get_running_loop().time())
        if self._starter.done():
            await asyncio.gather(*(c.wait(left) for c in self.connections.values()))

    def notices(self) -> list[str]:
        """What the user should know, each said once: servers not started, failed, slow."""
        said = list(self.problems)
        for item in self.waiting:
            said.append(
                f"MCP server '{item.name}' ({item.where}) was not started: it would run "
                f"`{item.server.shown()}` as you, outside the sandbox. If you trust it, run: "
                f"shipmate mcp trust {item.name}"
            )
        for connection in self.connections.values():
            said += connection.notes
            if connection.state == "failed":
                said.append(f"MCP server '{connection.name}' {connection.problem}.")
            elif connection.state == "starting":
                said.append(
                    f"MCP server '{connection.name}' is not ready after "
                    f"{self.startup_timeout:g} s; its tools join once it is."
                )
        said += [problem for skipped in self._skipped.values() for problem in skipped]
        fresh = [text for text in said if text not in self._told]
        self._told.update(fresh)
        return fresh

    def tools(self) -> dict[str, type[McpTool]]:
        """The tools of every server that is up, by their Shipmate name."""
        found: dict[str, type[McpTool]] = {}
        for connection in self.connections.values():
            if connection.state not in ("ready", "restarting"):
                continue
            generation, classes = self._tools.get(connection.name, (-1, {}))
            if generation != connection.generation:
                classes = self._classes(connection)
                self._tools[connection.name] = (connection.generation, classes)
            found.update(classes)
        return found

    def unavailable(self, name: str) -> str | None:
        """Why a tool of a known server cannot be called now (its server is down or still
        starting), for a model that saw the tool earlier."""
        server = name.removeprefix(PREFIX).split("__", 1)[0] if name.startswith(PREFIX) else ""
        connection = self.connections.get(server)
        if connection is None or connection.state == "ready":
            return None
        if connection.state in ("starting", "restarting"):
            return f"The MCP server '{server}' is {connection.state}; try again in a moment."
        return f"The MCP server '{server}' is not running: {connection.problem}."

    def _classes(self, connection: Connection) -> dict[str, type[McpTool]]:
        allowed = connection.declared.server.tools
        classes: dict[str, type[McpTool]] = {}
        skipped = []
        for remote in connection.tools:
            if allowed is not None and remote.name not in allowed:
                continue
            try:
                tool = tool_class(connection, remote)
            except SchemaProblem as problem:
                skipped.append(
                    f"MCP server '{connection.name}': tool {remote.name!r} is left out: {problem}."
                )
                continue
            if tool.name in classes:
                skipped.append(
                    f"MCP server '{connection.name}': tool {remote.name!r} is left out: its "
                    f"name clashes with another of its tools once made safe ({tool.name})."
                )
                continue
            classes[tool.name] = tool
        self._skipped[connection.name] = skipped
        return classes

    def add(self, declared: Declared) -> None:
        """A server the user trusted during the session: it starts now; its tools join
        once it is up."""
        self.waiting = [item for item in self.waiting if item.name != declared.name]
        connection = Connection(declared, self.workspace, self.log_dir)
        self.connections[declared.name] = connection
        if self._starter is None:
            self.start()  # starts them all, this one too
        elif self._starter.done():
            connection.start()
        # else the starter, still importing the SDK, starts it with the others

    async def close(self) -> None:
        """Stop every server and wait until their processes are gone."""
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
        await asyncio.gather(*(c.close() for c in self.connections.values()))
