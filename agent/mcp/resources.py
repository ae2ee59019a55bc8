"""A server's resources named in a message as ``@server:uri``: read and attached, capped as
files attached with ``@`` are. Only a resource the server listed counts, so an ``@`` word
that only looks like one stays a word."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.files import MAX_OUTPUT_CHARS

if TYPE_CHECKING:
    from agent.mcp.connection import Connection
    from agent.mcp.servers import McpServers


def named_resource(raw: str, servers: McpServers | None) -> tuple[Connection, str] | None:
    """The server and URI ``raw`` (``server:uri``) names, if that server listed it."""
    server, colon, uri = raw.partition(":")
    connection = servers.connections.get(server) if servers is not None and colon else None
    if connection is None or uri not in {resource.uri for resource in connection.resources}:
        return None
    return connection, uri


def resource_names(servers: McpServers) -> list[tuple[str, str]]:
    """Every listed resource as (``server:uri``, its description) for completion."""
    found = []
    for connection in servers.connections.values():
        for resource in connection.resources:
            about = resource.description or resource.title or resource.name
            found.append((f"{connection.name}:{resource.uri}", " ".join(about.split())))
    return found


async def read_text(connection: Connection, uri: str) -> str:
    """The resource's text (binary parts named, not sent), cut at the size a file is.
    Raises ToolError with the server's sentence."""
    result = await connection.read_resource(uri)
    parts = []
    for content in result.contents:
        text = getattr(content, "text", None)
        if isinstance(text, str):
            parts.append(text)
        else:
            parts.append(f"({content.mime_type or 'binary'} content left out)")
    text = "\n".join(parts)
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n… (cut at {MAX_OUTPUT_CHARS:,} characters)"
    return text
