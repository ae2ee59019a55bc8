"""git for the model: ``git`` reads (status, diff, log) and ``git_commit`` commits.

Both go through ``agent.vcs`` (its hardened git), so the model never needs a shell for them.
A commit holds exactly the files the agent changed in this session, never ``git add -A``;
the user is its author and Shipmate a co-author. There is no push.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from agent.events import ToolKindName
from agent.terminal import for_model
from agent.vcs import git
from agent.vcs.commits import (
    SUBJECT_LIMIT,
    CommitError,
    HookRunner,
    co_author,
    commit_files,
    committable,
    with_trailer,
)
from tools.base import Tool, ToolContext, ToolError, ToolResult, plural
from tools.paths import canonical
from tools.secret_files import is_secret_path
from tools.shell import execute

REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./~^@{}:-]*$")


def _repository(ctx: ToolContext) -> git.Repository:
    repository = git.repository(ctx.workspace)
    if repository is None or repository.root != ctx.workspace:
        raise ToolError("The workspace is not the root of a git repository, so git cannot be used.")
    return repository


class Git(Tool):
    """git status (branch, changed files), diff (unstaged; staged=true for the index;
    revision=HEAD~1 to compare with a commit) or log (recent commits), optionally of one
    path. Secret files are left out of diffs."""

    name: ClassVar[str] = "git"
    kind: ClassVar[ToolKindName] = "read"

    action: Literal["status", "diff", "log"]
    path: str | None = None
    staged: bool = False
    revision: str | None = None
    count: int = Field(20, ge=1, le=200, description="log: how many commits")

    @field_validator("revision")
    @classmethod
    def _a_revision(cls, value: str | None) -> str | None:
        if value is not None and not REVISION.match(value):
            raise ValueError("should be a commit, branch or tag name such as HEAD~1")
        return value

    def summary(self) -> str:
        return f"git {self.action}" + (f" {self.path}" if self.path else "")

    async def run(self, ctx: ToolContext) -> ToolResult:
        repository = _repository(ctx)
        where: list[str] = []
        if self.path:
            where = [ctx.relative(canonical(ctx.workspace, self.path))]
        try:
            if self.action == "status":
                text = self._status(repository, where)
            elif self.action == "log":
                text = self._log(repository, where)
            else:
                text = self._diff(ctx, repository, where)
        except git.GitError as error:
            raise ToolError(str(error)) from None
        text = for_model(text)
        limit = ctx.output_limit
        if len(text) > limit:
            text = text[:limit] + f"\n[cut at {limit:,} characters; narrow it with path]"
        return ToolResult(output=text or "(nothing)", summary=self.summary())

    def _status(self, repository: git.Repository, where: list[str]) -> str:
        out = repository.check(
            "status", "--short", "--branch", "--untracked-files=all", "--", *where
        ).decode(errors="replace")
        return out.strip() + ("" if "\n" in out.strip() else "\n(no changes)")

    def _log(self, repository: git.Repository, where: list[str]) -> str:
        done = repository.run(
            "log", f"-n{self.count}", "--date=short", "--format=%h %ad %an: %s", "--", *where
        )
        if done.returncode != 0:
            return "(no commits yet)"
        return done.stdout.decode(errors="replace").strip()

    def _diff(self, ctx: ToolContext, repository: git.Repository, where: list[str]) -> str:
        base = ["diff", "--no-ext-diff", "--no-textconv", "--no-color"]
        if self.staged:
            base.append("--cached")
        if self.revision:
            base += ["--end-of-options", self.revision]
        names = repository.check(*base, "--name-only", "-z", "--", *where)
        files = [name for name in names.decode(errors="surrogateescape").split("\0") if name]
        hidden = [f for f in files if is_secret_path(f) and not (ctx.reveal and ctx.reveal(f))]
        shown = [f for f in files if f not in hidden]
        text = ""
        if shown:
            argv = ["--literal-pathspecs", *base, "--", *shown]
            text = repository.check(*argv).decode(errors="replace")
        if hidden:
            text += f"\n[left out, secret files: {', '.join(hidden)}]"
        return text.strip() or "(no differences)"


class GitCommit(Tool):
    """Commit exactly the files you changed in this session, as the user with you as
    co-author. The repository's hooks run; a failing hook's output comes back and nothing
    is committed."""

    name: ClassVar[str] = "git_commit"
    kind: ClassVar[ToolKindName] = "git"

    message: str = Field(
        description="Imperative subject of at most 72 characters, a blank line, a short body on why"
    )

    @field_validator("message")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        subject = value.strip().split("\n", 1)[0].strip()
        if not subject:
            raise ValueError("needs a subject line")
        if len(subject) > SUBJECT_LIMIT:
            raise ValueError(
                f"the subject is {len(subject)} characters; keep it to {SUBJECT_LIMIT} and put "
                "the rest in the body"
            )
        return value

    def summary(self) -> str:
        return f"git commit: {self.message.strip().splitlines()[0]}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        repository = _repository(ctx)
        recorder = ctx.checkpoints
        if recorder is None:
            raise ToolError("Nothing to commit: no file was changed in this session.")
        paths, left_out = committable(repository, recorder.changed())
        kept_out = (
            f" Left out, as files that usually hold secrets: {', '.join(left_out)}; the user "
            "can commit them."
            if left_out
            else ""
        )
        if not paths:
            raise ToolError(
                "Nothing to commit: the files changed in this session are as the last commit "
                f"has them.{kept_out}"
            )
        message = with_trailer(self.message, co_author(ctx.model or "model"))
        try:
            commit = await commit_files(repository, paths, message, run_hook=hook_runner(ctx))
        except CommitError as error:
            raise ToolError(str(error)) from None
        recorder.add_commit(commit)
        branch = repository.branch() or "HEAD"
        listed = "\n".join(f"  {path}" for path in paths)
        return ToolResult(
            output=f"Committed {commit[:12]} on {branch}, {plural(len(paths), 'file')}:\n{listed}"
            + (f"\n{kept_out.strip()}" if kept_out else ""),
            summary=f"{commit[:12]}: {plural(len(paths), 'file')}",
        )


def hook_runner(ctx: ToolContext) -> HookRunner:
    """Hooks run as commands do: in the sandbox, with the commit's private index writable."""

    async def run(command: str, folder: Path) -> tuple[int, str]:
        outcome = await execute(ctx, command, ctx.command_timeout, writable=(folder,))
        code = 124 if outcome.timed_out else outcome.exit_code
        return (code if code is not None else 1), outcome.output

    return run
