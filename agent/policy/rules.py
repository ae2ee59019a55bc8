"""Permission rules a user keeps for a project: always allow, or always deny, a command, an
edit or a read.

Rules live in the user's config folder, one file per repository, never in the repository
itself: a cloned repo must not be able to grant itself permissions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ValidationError

from agent.config import ConfigError

RuleTool = Literal["command", "edit", "read"]


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
        except FileNotFoundError:
            return []
        except OSError as error:
            raise ConfigError(f"The rules file {self.path} cannot be read: {error}.") from None
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

    def add(self, rule: Rule) -> None:
        if rule not in self.rules:
            self.rules.append(rule)
            self.save()

    def remove(self, index: int) -> Rule:
        rule = self.rules.pop(index)
        self.save()
        return rule

    def save(self) -> None:
        """Replace the file atomically; it and its folder are the user's alone (0600, 0700)."""
        from agent.storage import private_dir, tighten

        private_dir(self.path.parent)
        data = RuleFile(workspace=str(self.workspace), rules=self.rules).model_dump_json(indent=2)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")  # created 0600
        tighten(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data + "\n")
        os.replace(temp, self.path)


def rules_command(args: argparse.Namespace, workspace: Path) -> int:
    """``shipmate rules [list | add PATTERN | remove N]``."""
    try:
        book = RuleBook(workspace)
    except ConfigError as error:
        print(f"shipmate: {error}", file=sys.stderr)
        return 2
    if args.action == "add":
        tool: RuleTool = "edit" if args.edit else "read" if args.read else "command"
        rule = Rule(action="deny" if args.deny else "allow", tool=tool, pattern=args.pattern)
        book.add(rule)
        print(f"Added: {rule.describe()}")
        return 0
    if args.action == "remove":
        if not 1 <= args.number <= len(book.rules):
            print(
                f"shipmate: there is no rule {args.number}; 'shipmate rules' lists them.",
                file=sys.stderr,
            )
            return 2
        print(f"Removed: {book.remove(args.number - 1).describe()}")
        return 0
    print(f"Rules for {workspace} ({book.path}):")
    if not book.rules:
        print("  none yet; add one with: shipmate rules add 'pytest *'")
    for number, rule in enumerate(book.rules, 1):
        print(f"  {number}. {rule.describe()}")
    return 0
