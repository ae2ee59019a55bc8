"""Whether a tool call may run: the approval mode, the user's rules and the sandbox decide.

The answer is allow, deny (with a message for the model) or ask (with the reason shown to
the person, and the rule that "allow always" would save). Order of precedence:

1. deny rules, then read-only mode, refuse;
2. running outside the sandbox (asked for, or because there is none) always asks;
3. full-auto allows, except reads of secret files, which always ask;
4. allow rules, and in auto-edit the built-in read-only commands, allow;
5. edits are allowed from auto-edit up, and so are commits (their hooks run in the
   sandbox); anything left asks.

A command is allowed by rules only if every simple command in it is, and it writes files
only inside the workspace; a command line that cannot be fully parsed always asks.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from agent.config import ApprovalMode
from agent.events import Refusal
from agent.mcp.tools import McpTool
from agent.policy.commands import (
    SimpleCommand,
    deny_match,
    matches,
    opaque,
    parse,
    read_only,
    readings,
    suggest_pattern,
)
from agent.policy.rules import Rule, RuleBook, RulesNotSaved, rule_warning
from agent.vcs import git
from tools.base import Tool, ToolError
from tools.listing import exact_glob, glob_matcher
from tools.paths import canonical
from tools.secret_files import is_secret_path

Verdict = Literal["allow", "deny", "ask"]

READ_ONLY_REFUSAL = (
    "Refused: Shipmate is in read-only mode, so files cannot be edited and commands cannot "
    "run. Do not retry; describe the change you propose in your answer instead."
)
# git commands that print files' content, from the repository's objects as well.
CONTENT_READERS = frozenset({"show", "log", "diff", "grep", "blame", "whatchanged"})
SAFE_WRITE_TARGETS = {"/dev/null", "/dev/stdout", "/dev/stderr"}


class Check(BaseModel):
    """``refusal`` says why it is denied or asks, so the fix offered can be the right one:
    ``rule`` is the deny rule involved, ``path`` the secret file."""

    verdict: Verdict
    reason: str = ""
    suggestion: Rule | None = None
    refusal: Refusal | None = None
    rule: Rule | None = None
    path: str | None = None


class Permissions:
    def __init__(
        self, mode: ApprovalMode, rules: RuleBook, workspace: Path, sandboxed: bool
    ) -> None:
        """``sandboxed``: commands run in the sandbox, or the user waived it explicitly."""
        self.mode = mode
        self.rules = rules
        self.workspace = workspace
        self.sandboxed = sandboxed
        self._tracks_secrets: bool | None = None

    def check(self, tool: Tool) -> Check:
        if isinstance(tool, McpTool):
            return self._mcp(tool)
        if tool.kind == "read":
            return self._read(tool.subject())
        if tool.kind == "edit":
            # An edit reads the file too (its result shows the text around the change).
            secret = self._read(tool.subject(), editing=True)
            return secret if secret.verdict != "allow" else self._edit(tool.subject() or "")
        if tool.kind == "execute":
            return self._command(
                tool.subject() or "",
                outside=bool(getattr(tool, "outside_sandbox", False)),
                why=getattr(tool, "justification", None),
            )
        if tool.kind == "git":
            return self._git(tool.summary())
        return Check(verdict="allow")

    def _mcp(self, tool: McpTool) -> Check:
        """An MCP server's tool runs outside the sandbox, as the user: read-only tools (by
        the server's word) run unasked, others ask, and one marked destructive always asks
        but in full-auto. Rules name tools (``mcp__github__*``); the server's ``approval``
        setting raises (ask) or lowers (allow) its default."""
        name = tool.name
        for rule in self.rules.of("mcp", "deny"):
            if fnmatch.fnmatchcase(name, rule.pattern):
                return _refused_by(rule)
        if self.mode == "read-only" and tool.kind != "read":
            return Check(verdict="deny", reason=READ_ONLY_REFUSAL, refusal="read_only")
        what = f"calls {tool.server}'s tool {tool.remote} (an MCP server, outside the sandbox)"
        if tool.destructive:
            if self.mode == "full-auto":
                return Check(verdict="allow")
            return Check(
                verdict="ask",
                reason=f"{what}, which it marks destructive",
                refusal="needs_approval",
            )
        if any(fnmatch.fnmatchcase(name, rule.pattern) for rule in self.rules.of("mcp", "allow")):
            return Check(verdict="allow")
        if tool.approval == "ask":
            pass
        elif tool.approval == "allow" or self.mode == "full-auto" or tool.kind == "read":
            return Check(verdict="allow")
        return Check(
            verdict="ask",
            reason=what,
            suggestion=Rule(action="allow", tool="mcp", pattern=name),
            refusal="needs_approval",
        )

    def _git(self, summary: str) -> Check:
        """A commit: asked in ask mode, and wherever hooks would run without a sandbox."""
        if self.mode == "read-only":
            return Check(verdict="deny", reason=READ_ONLY_REFUSAL, refusal="read_only")
        if self.mode != "ask" and self.sandboxed:
            return Check(verdict="allow")
        why = "commits" if self.sandboxed else "commits (its hooks run without a sandbox)"
        return Check(verdict="ask", reason=f"{why}: {summary}", refusal="needs_approval")

    def remember(self, rule: Rule) -> str | None:
        """Save ``rule`` for this project; what went wrong when it could only be kept for
        this session (the disk refused), else None."""
        try:
            self.rules.add(rule)
        except RulesNotSaved as error:
            return f"'{rule.describe()}' applies to this session only: {error}."
        return None

    def _relative(self, path: str) -> str:
        candidate = Path(path)
        if candidate.is_absolute() and candidate.is_relative_to(self.workspace):
            return candidate.relative_to(self.workspace).as_posix()
        return candidate.as_posix().removeprefix("./")

    def _path_rule(self, tool: Literal["edit", "read"], action: str, path: str) -> Rule | None:
        relative = self._relative(path)
        for rule in self.rules.of(tool, action):
            if glob_matcher(rule.pattern).match(relative):
                return rule
        return None

    def _real(self, path: str) -> str | None:
        """The file the tool will open, relative to the workspace (links followed, so
        notes.txt -> .env counts as .env): the same canonical reading the tools use. None
        when the tool will refuse the path anyway."""
        try:
            return canonical(self.workspace, path).relative_to(self.workspace).as_posix()
        except ToolError:
            return None

    def reveals(self, relative: str) -> bool:
        """Whether a read rule lets commands in the sandbox see this secret file."""
        return self._path_rule("read", "allow", relative) is not None

    def _read(self, path: str | None, editing: bool = False) -> Check:
        real = self._real(path) if path else None
        if not path or real is None:
            return Check(verdict="allow")  # nothing to read, or a path the tool refuses
        secret = [
            name for name in dict.fromkeys((self._relative(path), real)) if is_secret_path(name)
        ]
        if not secret:
            return Check(verdict="allow")
        for name in secret:
            if rule := self._path_rule("read", "deny", name):
                return _refused_by(rule)
        if all(self._path_rule("read", "allow", name) for name in secret):
            return Check(verdict="allow")
        shown = path if self._relative(path) == real else f"{path} (which leads to {real})"
        verb = "edits " if editing else ""
        why = " (an edit shows its content)" if editing else ""
        return Check(
            verdict="ask",
            reason=f"{verb}{shown}, which usually holds secrets (keys, passwords, tokens){why}",
            suggestion=Rule(action="allow", tool="read", pattern=exact_glob(real)),
            refusal="secret_file",
            path=real,
        )

    def _edit(self, path: str) -> Check:
        if rule := self._path_rule("edit", "deny", path):
            return _refused_by(rule)
        if self.mode == "read-only":
            return Check(verdict="deny", reason=READ_ONLY_REFUSAL, refusal="read_only")
        if self.mode != "ask" or self._path_rule("edit", "allow", path):
            return Check(verdict="allow")
        return Check(
            verdict="ask",
            reason=f"edits {path}",
            suggestion=Rule(action="allow", tool="edit", pattern=exact_glob(self._relative(path))),
            refusal="needs_approval",
        )

    def _command(self, command: str, outside: bool, why: str | None) -> Check:
        if self.mode == "read-only":
            return Check(verdict="deny", reason=READ_ONLY_REFUSAL, refusal="read_only")
        parsed = parse(command)
        denials = self.rules.of("command", "deny")
        if denials and (denied := self._denied(parsed, denials)):
            return denied
        if outside and self.sandboxed:
            reason = "wants to run outside the sandbox" + (f": {why}" if why else "")
            return Check(verdict="ask", reason=reason, refusal="outside_sandbox")
        if not self.sandboxed:
            return Check(verdict="ask", reason="no sandbox is available here", refusal="no_sandbox")
        if parsed is None:
            if self.mode == "full-auto" and not denials:
                return Check(verdict="allow")
            return _unverifiable("the command line is too complex to check")
        if self.mode == "full-auto":
            return Check(verdict="allow")
        blocked = [simple for simple in parsed if not self._command_allowed(simple)]
        if not blocked:
            return Check(verdict="allow")
        first = blocked[0]
        if hidden := opaque(first):
            return _unverifiable(f"what it runs cannot be checked: {hidden}")
        if not self._writes_inside(first):
            return Check(
                verdict="ask", reason="writes outside the workspace", refusal="writes_outside"
            )
        suggestion = None
        if first.argv:
            suggestion = Rule(action="allow", tool="command", pattern=suggest_pattern(first))
            if rule_warning(suggestion):  # `exec *`, `bash *`: never offered as a fix
                suggestion = None
        return Check(
            verdict="ask", reason="runs a command", suggestion=suggestion, refusal="needs_approval"
        )

    def _denied(self, parsed: list[SimpleCommand] | None, denials: list[Rule]) -> Check | None:
        """Deny rules match every reading of every command: a sure match denies; one only
        through a word known at run time, or a command that hides what it runs, asks."""
        if parsed is None:
            return _unverifiable("the command line is too complex to check")
        maybe: Rule | None = None
        hidden = ""
        for simple in parsed:
            for reading in readings(simple):
                hidden = hidden or reading.opaque
                for rule in denials:
                    found = deny_match(rule.pattern, reading)
                    if found == "yes":
                        return _refused_by(rule)
                    if found == "maybe":
                        maybe = maybe or rule
        if maybe is not None:
            reason = f"could run a command the rule '{maybe.describe()}' refuses"
            return _unverifiable(reason, maybe)
        if hidden:
            return _unverifiable(f"what it runs cannot be checked: {hidden}")
        return None

    def _command_allowed(self, simple: SimpleCommand) -> bool:
        """An allow rule or the read-only list, for a command whose every part is visible."""
        if not self._writes_inside(simple):
            return False
        if not simple.argv:
            return not simple.assignments
        if opaque(simple):
            return False
        if any(matches(rule.pattern, simple) for rule in self.rules.of("command", "allow")):
            return True
        return self.mode == "auto-edit" and read_only(simple) and self._git_reader_safe(simple)

    def _git_reader_safe(self, simple: SimpleCommand) -> bool:
        """Whether a read-only git command may run unasked.

        git reads the configuration of the repository it finds, which can name programs to
        run; only the workspace's own .git (read-only in the sandbox) is trusted. Without one,
        files the model wrote (HEAD, config, objects/) would make the workspace a repository.
        And where the repository tracks a secret file, the commands that print content
        (``git show``, ``log -p``, ``diff``) would print it from git's objects, which the
        sandbox cannot mask.
        """
        if simple.argv[0] != "git":
            return True
        if not (self.workspace / ".git").exists():
            return False
        args = simple.argv[1:]
        subcommand = next((arg for arg in args if not arg.startswith("-")), "")
        verbose = subcommand == "status" and any(
            arg == "--verbose" or (arg.startswith("-") and not arg.startswith("--") and "v" in arg)
            for arg in args
        )
        prints = subcommand in CONTENT_READERS or verbose  # status -v prints the diff
        return not prints or not self._tracked_secrets()

    def _tracked_secrets(self) -> bool:
        """Whether git holds a secret file: tracked now, or anywhere in its history (one
        committed once and removed since is still printed by ``git log -p``). Unsure (git
        failed, or the history is too long to read in time) counts as yes."""
        if self._tracks_secrets is None:
            repository = git.repository(self.workspace)
            try:
                held = repository.ever_tracked() if repository else []
            except git.GitError:
                held = None
            self._tracks_secrets = held is None or any(map(is_secret_path, held))
        return self._tracks_secrets

    def _writes_inside(self, simple: SimpleCommand) -> bool:
        for redirect in simple.redirects:
            if not redirect.writes or redirect.target in SAFE_WRITE_TARGETS:
                continue
            if redirect.dynamic:
                return False
            target = Path(redirect.target)
            target = target if target.is_absolute() else self.workspace / target
            try:
                real = target.resolve()
            except (OSError, RuntimeError):  # a link loop: not a place known to be inside
                return False
            if (
                not real.is_relative_to(self.workspace)
                or ".git" in real.relative_to(self.workspace).parts
            ):
                return False
        return True


def _refused_by(rule: Rule) -> Check:
    reason = f"Refused by the rule '{rule.describe()}'."
    return Check(verdict="deny", reason=reason, refusal="deny_rule", rule=rule)


def _unverifiable(reason: str, rule: Rule | None = None) -> Check:
    """A command whose effect cannot be checked (against ``rule``, a deny rule) asks."""
    return Check(verdict="ask", reason=reason, refusal="unverifiable", rule=rule)
