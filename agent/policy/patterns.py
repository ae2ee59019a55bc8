"""How a command rule's pattern reads, for allow and deny rules alike.

A pattern is split into words with shell quoting. Each word is a glob for the command's word
in the same place. A pattern that ends in ``*`` is open-ended: ``pytest *`` (a lone ``*``)
and ``npm run test*`` (a ``*`` glued to the last word) both match any number of further
words. The match is always against one simple command: the parser splits a line at ``;``,
``&&``, ``|`` … and every part must match on its own.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandPattern:
    """``words``: one glob per command word; ``open_ended``: any further words may follow."""

    words: tuple[str, ...]
    open_ended: bool


def command_pattern(pattern: str) -> CommandPattern | None:
    """The pattern's words, or None when it has none or its quotes do not close."""
    try:
        words = shlex.split(pattern)
    except ValueError:
        return None
    if not words:
        return None
    if words[-1] == "*":
        return CommandPattern(tuple(words[:-1]), True)
    return CommandPattern(tuple(words), words[-1].endswith("*"))
