"""An ACP prompt (text, resource links, embedded resources) as the text the core takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from acp.schema import (
    EmbeddedResourceContentBlock,
    ResourceContentBlock,
    TextContentBlock,
    TextResourceContents,
)

EMBEDDED_LIMIT = 100_000  # characters of one embedded resource passed on


def prompt_text(blocks: list[Any], workspace: Path) -> str:
    """The user's words; a link to a file of the workspace becomes an ``@`` mention (the
    core attaches it, with the usual permission and secret checks), other links stay links;
    an embedded text resource (a selection, a buffer) follows in a fence with its address.
    Images and audio are not passed on (the agent does not advertise them)."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, TextContentBlock):
            parts.append(block.text)
        elif isinstance(block, ResourceContentBlock):
            parts.append(_mention(block.uri, workspace) or f"[{block.name}]({block.uri})")
        elif isinstance(block, EmbeddedResourceContentBlock):
            resource = block.resource
            if isinstance(resource, TextResourceContents):
                text = resource.text[:EMBEDDED_LIMIT]
                parts.append(f"{resource.uri}:\n```\n{text}\n```")
    return "\n\n".join(part for part in parts if part.strip())


def _mention(uri: str, workspace: Path) -> str | None:
    """``@path`` for a ``file://`` address inside the workspace, else None."""
    address = urlparse(uri)
    if address.scheme != "file":
        return None
    path = Path(unquote(address.path))
    if not path.is_relative_to(workspace) or " " in str(path):
        return None
    return "@" + path.relative_to(workspace).as_posix()
