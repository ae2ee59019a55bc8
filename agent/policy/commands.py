"""Shell command lines judged for the permission rules, in three layers.

- Syntax (``bash_syntax.parse``): the line, read with tree-sitter-bash, split into simple
  commands; only syntax known to be inert is accepted, anything else means "ask".
- Meaning (``command_readings``): whether a command evaluates text or reads code from its
  input (opaque), and what it may really run, for deny rules to see through wrappers.
- The built-in read-only commands (``read_only``), audited for options that write or run.

This module is what the permission policy uses: those three, plus how a rule such as
``pytest *`` matches a command, and the rule an "allow always" answer saves.
"""

from __future__ import annotations

import re
import shlex
from fnmatch import fnmatchcase

from agent.policy.bash_syntax import Redirect, SimpleCommand, parse
from agent.policy.command_readings import Reading, deny_match, opaque, readings, runs_anything
from agent.policy.patterns import command_pattern
from agent.policy.read_only import read_only
from tools.secret_files import is_secret_path

__all__ = [
    "Reading",
    "Redirect",
    "SimpleCommand",
    "deny_match",
    "is_secret_path",
    "matches",
    "opaque",
    "parse",
    "read_only",
    "readings",
    "runs_anything",
    "suggest_pattern",
]


def matches(pattern: str, command: SimpleCommand) -> bool:
    """Whether an allow rule such as ``pytest *`` covers ``command`` (redirections are not
    judged). Each pattern word is a glob for the word in the same place, and a pattern ending
    in ``*`` (``pytest *``, ``npm run test*``) also covers any further words. A word known only
    at run time (an expansion or a glob, which may become several words) is only covered by
    those further words, and a glob in the command name never matches a ``/`` (``pytest*``
    is not ``pytest/../../bin/sh``)."""
    parsed = command_pattern(pattern)
    words = command.assignments + command.argv
    if parsed is None or not command.argv:
        return False
    fixed = parsed.words
    if len(words) < len(fixed) or (not parsed.open_ended and len(words) != len(fixed)):
        return False
    name = len(command.assignments)
    return all(
        fnmatchcase(word, token)
        and not command.runtime_word(index)
        and (index != name or "/" not in word or "/" in token)
        for index, (word, token) in enumerate(zip(words, fixed, strict=False))
    )


_SUBCOMMAND_TOOLS = frozenset((
    "git", "npm", "pnpm", "yarn", "bun", "cargo", "go", "uv", "poetry", "pip", "make", "docker",
    "kubectl", "just", "gradle", "mvn", "dotnet",
))  # fmt: skip


def suggest_pattern(command: SimpleCommand) -> str:
    """The rule an "allow always" answer saves: the command name (and subcommand) then ``*``."""
    argv = command.argv
    if not argv:
        return ""
    words = [*command.assignments, argv[0]]
    subcommand = len(argv) > 1 and not argv[1].startswith("-") and not command.runtime_arg(1)
    if argv[0] in _SUBCOMMAND_TOOLS and subcommand:
        words.append(argv[1])
    elif argv[0] in ("python", "python3") and len(argv) > 2 and argv[1] == "-m":
        words += argv[1:3]
    return " ".join(_pattern_token(word) for word in words) + " *"


def _pattern_token(word: str) -> str:
    """``word`` as a pattern token matching only itself: glob characters bracketed, quoted."""
    return shlex.quote(re.sub(r"([*?\[])", r"[\1]", word))
