"""Permission rules a user keeps for a project: always allow, or always deny, a command, an
edit or a read.

Rules live in the user's config folder, one file per repository, never in the repository
itself: a cloned repo must not be able to grant itself permissions.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ValidationError

from agent.config import ConfigError
from agent.policy.patterns import command_pattern
from agent.storage import os_reason
from tools.listing import glob_matcher

RuleTool = Literal["command", "edit", "read", "mcp"]
MCP_PREFIX = "mcp__"


class Rule(BaseModel):
    action: Literal["allow", "deny"]
    tool: RuleTool
    pattern: str

    def describe(self) -> str:
        return f"{self.action} {self.tool} {self.pattern}"


class RuleFile(BaseModel):
    workspace: str
    rules: list[Rule] = []


def rules_path(workspace: Path) -> Path:
    digest = hashlib.sha256(str(workspace).encode()).hexdigest()[:12]
    folder = platformdirs.user_config_path("shipmate") / "projects"
    return folder / f"{workspace.name}-{digest}.json"


class RulesNotSaved(Exception):
    """The rules file could not be written; the message says where, why and what still works."""


class RuleBook:
    """The rules of one workspace, read at start and written whenever one is added.

    ``for_this_run`` (``run --allow/--deny``) apply too but are never saved."""

    def __init__(self, workspace: Path, for_this_run: list[Rule] | None = None) -> None:
        self.workspace = workspace
        self.path = rules_path(workspace)
        self.rules: list[Rule] = self._load()
        self.for_this_run = list(for_this_run or [])

    def _load(self) -> list[Rule]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            raise ConfigError(
                f"The rules file {self.path} cannot be read ({os_reason(error)}); fix its "
                "permissions or delete it."
            ) from None
        try:
            return RuleFile.model_validate(json.loads(text)).rules
        except (ValueError, ValidationError):
            raise ConfigError(
                f"The rules file {self.path} is damaged; fix it or delete it "
                "(shipmate rules lists what it should hold)."
            ) from None

    def of(self, tool: RuleTool, action: str) -> list[Rule]:
        every = self.rules + self.for_this_run
        return [rule for rule in every if rule.tool == tool and rule.action == action]

    def find(self, rule: Rule) -> int | None:
        """The index of a rule that means the same (``pytest  *`` is ``pytest *``), if any."""
        for index, kept in enumerate(self.rules):
            if (kept.action, kept.tool) == (rule.action, rule.tool) and _same(
                rule.tool, kept.pattern, rule.pattern
            ):
                return index
        return None

    def add(self, rule: Rule) -> bool:
        """Add ``rule`` unless one like it is there; False if it was. It applies from now on
        even when saving fails (RulesNotSaved), for as long as this book is used."""
        if self.find(rule) is not None:
            return False
        self.rules.append(rule)
        self.save()
        return True

    def remove(self, index: int) -> Rule:
        rule = self.rules[index]
        self.save([kept for number, kept in enumerate(self.rules) if number != index])
        del self.rules[index]
        return rule

    def save(self, rules: list[Rule] | None = None) -> None:
        """Replace the file atomically; it and its folder are the user's alone (0600, 0700).
        Raises RulesNotSaved, leaving no temp file behind, when the disk refuses."""
        from agent.storage import replace_file

        kept = self.rules if rules is None else rules
        data = RuleFile(workspace=str(self.workspace), rules=kept).model_dump_json(indent=2)
        try:
            replace_file(self.path, data + "\n")
        except OSError as error:
            raise RulesNotSaved(
                f"the rules file {self.path} cannot be written ({os_reason(error)})"
            ) from None


def _same(tool: RuleTool, first: str, second: str) -> bool:
    if tool == "command":
        return command_pattern(first) == command_pattern(second)
    return first.strip() == second.strip()


def rule_problem(rule: Rule, workspace: Path) -> str | None:
    """Why ``rule`` could never match anything, as a sentence saying what to write instead."""
    pattern = rule.pattern.strip()
    if rule.tool == "mcp":
        if not pattern.startswith(MCP_PREFIX) or pattern == MCP_PREFIX:
            return (
                "An MCP rule names tools as mcp__SERVER__TOOL, with * for any part, such as "
                "'mcp__github__get_issue' or 'mcp__github__*'."
            )
        return None
    if rule.tool == "command":
        if not pattern:
            return "The pattern is empty; give the command it should match, such as 'pytest *'."
        if command_pattern(pattern) is None:
            return (
                f"The pattern {pattern!r} has a quote that is not closed; quote it as you would "
                "in the shell, such as 'git commit -m *'."
            )
        return None
    if not pattern.removeprefix("./").strip("/"):
        return (
            "The pattern is empty; give a path or glob relative to the workspace root, such "
            "as 'src/**' or '.env.test'."
        )
    if Path(pattern).is_absolute() and Path(pattern).is_relative_to(workspace):
        relative = Path(pattern).relative_to(workspace).as_posix()
        return (
            f"Path patterns are relative to the workspace root ({workspace}); a leading / "
            f"anchors them there, so write '/{relative}' or '{relative}'."
        )
    return None


# Programs no command rule is expected to allow whole; a rule that matches them all
# allows every command.
_ANY_PROGRAM = ("rm", "sh", "curl", "x-any-program")
# Paths that only a rule covering every file (or every secret file) matches together.
_ANY_FILE = ("a.py", "src/deep/b.txt", ".github/workflows/ci.yml")
_ANY_SECRET = (".env", "deploy/server.pem", ".ssh/id_rsa")


def rule_warning(rule: Rule) -> str | None:
    """What an allow rule lets through that its author may not expect, or None."""
    if rule.action != "allow":
        return None
    if rule.tool == "mcp":
        if fnmatch.fnmatchcase("mcp__x-any-server__x_any_tool", rule.pattern):
            return (
                f"'{rule.pattern}' lets the model call every tool of every MCP server without "
                "asking (those marked destructive still ask)."
            )
        return None
    if rule.tool == "edit":
        if all(glob_matcher(rule.pattern).match(path) for path in _ANY_FILE):
            return (
                f"'{rule.pattern}' lets the model edit every file of this project without "
                "asking, as --approval auto-edit does."
            )
        return None
    if rule.tool == "read":
        if all(glob_matcher(rule.pattern).match(path) for path in _ANY_SECRET):
            return (
                f"'{rule.pattern}' lets the model read every file that usually holds secrets "
                "(.env, keys, …) without asking, and commands see them unmasked."
            )
        return None
    return _command_warning(rule.pattern)


def _command_warning(pattern: str) -> str | None:
    from agent.policy.commands import SimpleCommand, matches, runs_anything

    if all(matches(pattern, SimpleCommand(argv=(name, "x"))) for name in _ANY_PROGRAM):
        return (
            f"'{pattern}' allows every command in the sandbox without asking, as --approval "
            "full-auto does; deny rules still apply."
        )
    parsed = command_pattern(pattern)
    if parsed is None or not parsed.words:
        return None
    words = list(parsed.words)
    words[-1] = words[-1].removesuffix("*") if parsed.open_ended else words[-1]  # git* is git
    for prefix in (words[:1], words[:2]):
        probe = SimpleCommand(argv=(*prefix, "x-any-program", "--any-option"))
        if matches(pattern, probe) and (why := runs_anything(tuple(prefix))):
            return (
                f"'{pattern}' allows {' '.join(prefix)} with any arguments, and {why}, so it is "
                "nearly as wide as allowing every command in the sandbox; narrower rules (such "
                "as 'git diff *' or 'python3 -m pytest *') keep the rest asking."
            )
    return None


_STILL_WORKS = (
    "The rules saved before still apply, and runs work as before (only what they save, such "
    "as session history, may be missing)."
)


def rules_command(args: argparse.Namespace, workspace: Path) -> int:
    """``shipmate rules [list | add PATTERN | remove N]``."""
    try:
        book = RuleBook(workspace)
    except ConfigError as error:
        print(f"shipmate: {error}", file=sys.stderr)
        return 2
    if args.action == "add":
        tool: RuleTool = "edit" if args.edit else "read" if args.read else "command"
        if tool == "command" and args.pattern.strip().startswith(MCP_PREFIX):
            tool = "mcp"  # an MCP tool's name, never a program's
        action: Literal["allow", "deny"] = "deny" if args.deny else "allow"
        rule = Rule(action=action, tool=tool, pattern=args.pattern.strip())
        if problem := rule_problem(rule, workspace):
            print(f"shipmate: {problem}", file=sys.stderr)
            return 2
        if (index := book.find(rule)) is not None:
            print(f"Already a rule: {index + 1}. {book.rules[index].describe()}")
            return 0
        try:
            book.add(rule)
        except RulesNotSaved as error:
            print(f"shipmate: {error}, so it was not added. {_STILL_WORKS}", file=sys.stderr)
            return 1
        print(f"Added: {rule.describe()}")
        if warning := rule_warning(rule):
            print(f"Warning: {warning}", file=sys.stderr)
        return 0
    if args.action == "remove":
        if not 1 <= args.number <= len(book.rules):
            print(
                f"shipmate: there is no rule {args.number}; 'shipmate rules' lists them.",
                file=sys.stderr,
            )
            return 2
        try:
            removed = book.remove(args.number - 1)
        except RulesNotSaved as error:
            print(f"shipmate: {error}, so it was not removed. {_STILL_WORKS}", file=sys.stderr)
            return 1
        print(f"Removed: {removed.describe()}")
        return 0
    print(f"Rules for {workspace} ({book.path}):")
    if not book.rules:
        print("  none yet; add one with: shipmate rules add 'pytest *'")
    for number, rule in enumerate(book.rules, 1):
        print(f"  {number}. {rule.describe()}")
    return 0
