"""What the input completes: ``@`` a workspace file (or an MCP resource, ``@server:uri``),
``/`` a slash command at the start (or an MCP server's prompt).

Plain functions, so the ranking is tested without an app: a file matches when the letters
typed appear in its path in order; names whose basename matches, then shorter paths, first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.tui.commands import COMMANDS

if TYPE_CHECKING:
    from agent.index.index import CodeIndex

LIMIT = 8  # entries shown at once
WALK_LIMIT = 50_000  # outside git, a walk that finds more gives no completion
FILE_TOKEN = re.compile(r"(?:^|(?<=\s))@(\S*)$")
COMMAND_TOKEN = re.compile(r"^/(\S*)$")


@dataclass(frozen=True)
class Token:
    """The word being completed: ``kind`` "file" or "command", what was typed after the
    sigil, and where the word (sigil included) starts in the line."""

    kind: str
    typed: str
    start: int


def token_at(text: str, row: int, column: int) -> Token | None:
    """The word before the cursor at (``row``, ``column``) of ``text``, if it completes."""
    line = text.split("\n")[row][:column]
    if match := FILE_TOKEN.search(line):
        return Token("file", match.group(1), match.start(1) - 1)
    if row == 0 and "\n" not in text and (match := COMMAND_TOKEN.match(line)):
        return Token("command", match.group(1), 0)
    return None


def _subsequence(typed: str, text: str) -> int | None:
    """Where ``typed`` spreads in ``text`` (its letters in order): the span, or None."""
    start = position = -1
    for letter in typed:
        position = text.find(letter, position + 1)
        if position < 0:
            return None
        start = position if start < 0 else start
    return position - start if typed else 0


def rank_files(typed: str, paths: list[str], limit: int = LIMIT) -> list[str]:
    """The paths ``typed`` fuzzily matches, best first."""
    typed = typed.lower()
    scored: list[tuple[tuple[int, int, int, str], str]] = []
    for path in paths:
        lower = path.lower()
        span = _subsequence(typed, lower)
        if span is None:
            continue
        name = lower.rsplit("/", 1)[-1]
        in_name = _subsequence(typed, name)
        prefix = 0 if name.startswith(typed) else 1
        tier = 0 if in_name is not None else 1
        scored.append(((tier, prefix, span + len(path), path), path))
    scored.sort()
    return [path for _, path in scored[:limit]]


def rank_commands(typed: str, more: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The slash commands starting with ``typed``, with their one-line help; ``more``: the
    MCP servers' prompts, after Shipmate's own."""
    typed = typed.lower()
    entries = [*COMMANDS.items(), *(more or [])]
    return [(name, help_) for name, help_ in entries if name.lower().startswith(typed)]


def workspace_paths(workspace: Path, index: CodeIndex | None) -> list[str]:
    """The files ``@`` completes: the index's list when it has one, else git's or a walk's
    (slow in a big folder: call it in a thread)."""
    if index is not None and index.listed:
        return list(index.listed)
    from tools.listing import TooManyFiles, workspace_files

    try:
        return workspace_files(workspace, limit=WALK_LIMIT)
    except (TooManyFiles, OSError):
        return []
