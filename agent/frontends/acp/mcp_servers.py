"""The MCP servers an editor hands a session (``mcpServers`` of ``session/new`` and
``session/load``) as the core's declarations: the editor's own choice, so they start
without asking for trust; a server of the user's or the repository's by the same name wins."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from agent.mcp.config import Declared, McpServer, name_problem

log = logging.getLogger("shipmate.acp")


def editor_servers(entries: list[Any] | None) -> list[Declared]:
    """Each stdio, HTTP or SSE entry as a Declared; an entry that cannot be is logged (the
    editor keeps the agent's stderr in its log) and left out."""
    declared = []
    for entry in entries or []:
        name = str(getattr(entry, "name", ""))
        kind = getattr(entry, "type", None) or "stdio"
        if problem := name_problem(name):
            log.warning("MCP server from the editor left out: %s.", problem)
            continue
        try:
            if kind == "stdio":
                env = {item.name: item.value for item in entry.env}
                server = McpServer(command=entry.command, args=list(entry.args), env=env)
            elif kind in ("http", "sse"):
                headers = {item.name: item.value for item in entry.headers}
                server = McpServer(url=entry.url, headers=headers, transport=kind)
            else:
                log.warning(
                    "MCP server %r from the editor left out: %s is not supported.", name, kind
                )
                continue
        except ValidationError as error:
            why = error.errors()[0]["msg"].removeprefix("Value error, ")
            log.warning("MCP server %r from the editor left out: %s.", name, why)
            continue
        declared.append(Declared(name=name, server=server, source="editor", where="the editor"))
    return declared
