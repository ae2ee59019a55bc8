"""Files a user names with ``@path`` in a message: they join the context of that message.

Only a mention that names an existing file counts (``@decorator`` or an e-mail address stay
words); each one is read the way ``read_file`` reads it (its canonical path inside the
workspace, size-capped), and the permission check decides first: a secret file is not sent
unless a read rule allows it, and a path outside the workspace is refused with the reason.
``@server:uri`` names an MCP server's resource instead (``agent.mcp.resources``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.mcp.resources import named_resource, read_text
from agent.policy.permissions import Permissions
from tools.base import ToolContext, ToolError
from tools.files import ReadFile
from tools.paths import canonical

# ``@`` at the start or after a space, then everything up to the next space.
MENTION = re.compile(r"(?:^|(?<=\s))@(\S+)")
TRAILING = ".,;:!?)]}'\""  # punctuation after a path, as in "look at @a.py."
MAX_FILES = 10  # more mentions than this in one message are not attached

if TYPE_CHECKING:
    from agent.mcp.servers import McpServers


@dataclass
class Attached:
    """What the mentions of one message gave: the files attached (relative paths), the
    ones refused with why, and the text the model sees after the message."""

    files: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    text: str = ""


def mentioned(text: str) -> list[str]:
    """The ``@path`` mentions in ``text``, in order, each once, trailing punctuation cut."""
    found: list[str] = []
    for match in MENTION.finditer(text):
        path = match.group(1)
        while path and path[-1] in TRAILING and not path.endswith(("..", "/.")):
            path = path[:-1]
        if path and path not in found:
            found.append(path)
    return found


def _names_a_file(workspace: Path, raw: str) -> bool:
    """Whether ``raw`` names something that exists (read nothing yet, follow nothing out)."""
    candidate = Path(raw).expanduser()
    candidate = candidate if candidate.is_absolute() else workspace / candidate
    try:
        return candidate.exists() and not candidate.is_dir()
    except OSError:
        return False


async def attach(
    text: str, ctx: ToolContext, permissions: Permissions, servers: McpServers | None = None
) -> Attached:
    """Read the files ``text`` mentions, as ``read_file`` would, and the MCP resources it
    names, for the model to see."""
    attached = Attached()
    blocks: list[str] = []
    resources: list[str] = []
    for raw in mentioned(text):
        resource = named_resource(raw, servers)
        if resource is None and not _names_a_file(ctx.workspace, raw):
            continue
        if len(attached.files) >= MAX_FILES:
            attached.refused.append(f"@{raw}: at most {MAX_FILES} files join one message.")
            continue
        if resource is not None:
            connection, uri = resource
            try:
                said = await read_text(connection, uri)
            except ToolError as error:
                attached.refused.append(f"@{raw} not attached: {error}")
                continue
            attached.files.append(raw)
            resources.append(
                f'<resource server="{connection.name}" uri="{uri}">\n{said}\n</resource>'
            )
            continue
        tool = ReadFile(path=raw)
        check = permissions.check(tool)
        if check.verdict != "allow":
            why = check.reason or "not allowed"
            attached.refused.append(
                f"@{raw} not attached: {why}. Allow it with a read rule, or ask the model to "
                "read it (you will be asked)."
            )
            continue
        try:
            real = ctx.relative(canonical(ctx.workspace, raw))
            result = await tool.run(ctx)
        except ToolError as error:
            attached.refused.append(f"@{raw} not attached: {error}")
            continue
        if real not in attached.files:
            attached.files.append(real)
            blocks.append(f'<file path="{real}">\n{result.output}\n</file>')
    parts = []
    if blocks:
        parts.append("The files the user mentioned, as read_file shows them:")
        parts += blocks
    if resources:
        parts.append("The MCP resources the user mentioned:")
        parts += resources
    attached.text = "\n\n".join(parts)
    return attached
