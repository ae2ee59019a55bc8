"""Undo the agent's last turn, and show what the agent changed in a session.

Undo puts back each file the turn changed as the checkpoint kept it, and refuses (saying
which files) when one was changed by someone else since the agent's edit, unless forced.
A file the agent created is removed only while it is still the agent's; nothing the user
created is ever deleted. When the turn ended in the agent's commits: if they are the tip,
not pushed and the files untouched, HEAD moves back to before them (a soft reset: the
work tree is then restored like any undo); otherwise a new commit reverts them. Each undo
goes one turn further back.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from agent.session import SessionStore
from agent.terminal import visible
from agent.vcs import git
from agent.vcs.blobs import Blobs
from agent.vcs.checkpoints import Checkpoint, FileChange, FileVersion, read_file
from agent.vcs.commits import CommitError, commit_files, with_trailer
from tools.base import ToolContext, ToolError
from tools.paths import canonical, remove_file, write_atomic
from tools.textio import is_binary

MAX_DIFF_BYTES = 1024 * 1024


class UndoError(Exception):
    """Nothing was undone; the message says why and what to do."""


@dataclass
class Undone:
    turn: int
    request: str
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # created by the agent, changed since: kept
    commits: str = ""  # what happened to the turn's commits, in words
    remaining: int = 0  # turns that can still be undone


def last_turn(store: SessionStore, session_id: str) -> tuple[Checkpoint, int] | None:
    """The newest turn not undone yet, and how many such turns there are."""
    alive = [c for c in store.checkpoints(session_id) if not c.undone and (c.files or c.commits)]
    return (alive[-1], len(alive)) if alive else None


def conflicts(workspace: Path, checkpoint: Checkpoint) -> list[str]:
    """Files of ``checkpoint`` that are no longer as the agent left them (one already back
    as it was before is not: an undo interrupted half-way finishes when run again)."""
    found = []
    for path, change in checkpoint.files.items():
        read = read_file(workspace, path)
        if read.unsupported or read.digest not in (change.after.digest, change.before.digest):
            found.append(path)
    return found


async def undo(
    workspace: Path,
    session_id: str,
    store: SessionStore,
    blobs: Blobs,
    *,
    force: bool = False,
) -> Undone:
    found = last_turn(store, session_id)
    if found is None:
        raise UndoError("There is nothing to undo in this session.")
    checkpoint, count = found
    changed = conflicts(workspace, checkpoint)
    if changed and not force:
        shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" * (len(changed) > 10))
        raise UndoError(
            f"Not undone: {shown} changed after Shipmate's edit, and undo would overwrite "
            "that; use --force to restore Shipmate's checkpoint anyway."
        )
    repository = git.repository(workspace)
    if repository is not None and repository.root != workspace:
        repository = None
    done = Undone(turn=checkpoint.turn, request=checkpoint.request, remaining=count - 1)
    reset = False
    if checkpoint.commits and repository is not None:
        reset = not changed and _can_reset(repository, checkpoint.commits)
        if reset:
            parent = f"{checkpoint.commits[0]}^"
            _git(repository, "reset", "--soft", "--quiet", parent)
            paths = [p for p in checkpoint.files]
            if paths:
                _git(repository, "reset", "--quiet", parent, "--", *paths)
            done.commits = f"moved HEAD back before {_short(checkpoint.commits)} (not pushed)"
    _restore(workspace, checkpoint, blobs, changed, done)
    if checkpoint.commits and repository is not None and not reset:
        done.commits = await _revert(repository, checkpoint)
    checkpoint.undone = True
    checkpoint.told = False
    store.save_checkpoint(session_id, checkpoint)
    return done


def _restore(
    workspace: Path, checkpoint: Checkpoint, blobs: Blobs, changed: list[str], done: Undone
) -> None:
    ctx = ToolContext(workspace)
    for path, change in checkpoint.files.items():
        if change.before == change.after:
            continue
        now = read_file(workspace, path)
        if not now.unsupported and (now.digest, now.mode) == (
            change.before.digest,
            change.before.mode if change.before.exists else now.mode,
        ):
            continue  # back as it was already
        try:
            real = canonical(workspace, path)
        except ToolError as error:
            raise UndoError(f"{path} cannot be restored: {error}") from None
        if not change.before.exists:
            if path in changed:
                done.kept.append(path)  # the agent made it, someone changed it since
                continue
            try:
                remove_file(ctx, real)
            except ToolError as error:
                raise UndoError(str(error)) from None
            done.removed.append(path)
            continue
        assert change.before.blob is not None
        try:
            data = blobs.get(change.before.blob)
        except (git.GitError, OSError) as error:
            raise UndoError(f"The saved version of {path} cannot be read ({error}).") from None
        try:
            write_atomic(ctx, real, data, change.before.mode)
        except ToolError as error:
            raise UndoError(str(error)) from None
        done.restored.append(path)


def _can_reset(repository: git.Repository, commits: list[str]) -> bool:
    """Whether the turn's commits are the tip, in order, and no remote branch has them."""
    if repository.head() != commits[-1]:
        return False
    for child, parent in zip(commits[1:], commits[:-1], strict=False):
        done = repository.run("rev-parse", "--verify", "--quiet", f"{child}^")
        if done.stdout.decode().strip() != parent:
            return False
    pushed = repository.run("for-each-ref", "--contains", commits[0], "refs/remotes")
    return pushed.returncode == 0 and not pushed.stdout.strip()


async def _revert(repository: git.Repository, checkpoint: Checkpoint) -> str:
    """A new commit holding the restored files: the agent's commits stay in the history."""
    paths = list(checkpoint.files)
    subjects = []
    for commit in checkpoint.commits:
        done = repository.run("log", "-1", "--format=%s", commit)
        subjects.append(done.stdout.decode(errors="replace").strip() or commit[:12])
    message = f'Revert "{subjects[-1]}"' if len(subjects) == 1 else "Revert Shipmate's commits"
    body = "\n".join(f"This reverts commit {commit}." for commit in checkpoint.commits)
    try:
        commit = await commit_files(repository, paths, with_trailer(message, body))
    except CommitError as error:
        return f"files restored, but the revert commit failed: {error}"
    return f"reverted {_short(checkpoint.commits)} in a new commit {commit[:12]}"


def _short(commits: list[str]) -> str:
    return ", ".join(commit[:12] for commit in commits)


def _git(repository: git.Repository, *args: str) -> None:
    try:
        repository.check(*args)
    except git.GitError as error:
        raise UndoError(f"Undo stopped: {error}.") from None


def session_diff(
    workspace: Path, store: SessionStore, session_id: str, blobs: Blobs, colour: bool = False
) -> str:
    """Unified diff of each file from before the session's first change of it to after the
    agent's last (turns undone left out)."""
    first: dict[str, FileVersion] = {}
    last: dict[str, FileVersion] = {}
    for checkpoint in store.checkpoints(session_id):
        if checkpoint.undone:
            continue
        for path, change in checkpoint.files.items():
            first.setdefault(path, change.before)
            last[path] = change.after
    parts = []
    for path in sorted(first):
        text = _file_diff(path, FileChange(path=path, before=first[path], after=last[path]), blobs)
        if text:
            parts.append(text)
    out = "".join(parts)
    return _coloured(out) if colour else out


def turn_diff(checkpoint: Checkpoint, blobs: Blobs) -> str:
    """What one turn changed, as a unified diff."""
    return "".join(_file_diff(path, change, blobs) for path, change in checkpoint.files.items())


def _file_diff(path: str, change: FileChange, blobs: Blobs) -> str:
    if change.before.digest == change.after.digest:
        return ""
    old = _content(blobs, change.before)
    new = _content(blobs, change.after)
    old_name = f"a/{path}" if change.before.exists else "/dev/null"
    new_name = f"b/{path}" if change.after.exists else "/dev/null"
    header = f"diff --git a/{path} b/{path}\n"
    if not change.before.exists:
        header += f"new file mode 100{change.after.mode:o}\n"
    elif not change.after.exists:
        header += f"deleted file mode 100{change.before.mode:o}\n"
    if old is None or new is None:
        return f"{header}Binary file {path} changed\n"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name
    )
    return header + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _content(blobs: Blobs, version: FileVersion) -> str | None:
    """The text of ``version`` ('' when absent), None for a binary or unreadable one."""
    if version.blob is None:
        return ""
    try:
        data = blobs.get(version.blob)
    except (git.GitError, OSError):
        return None
    if len(data) > MAX_DIFF_BYTES or is_binary(data):
        return None
    return data.decode("utf-8", errors="replace")


def _coloured(text: str) -> str:
    """ANSI colours around each line, the lines themselves made ``visible`` (the files'
    own escape sequences shown, never acted on): written with ``write_trusted``."""
    out = []
    for line in text.splitlines():
        shown = visible(line)
        for prefix, colour in _COLOURS:
            if line.startswith(prefix):
                shown = f"\x1b[{colour}m{shown}\x1b[0m"
                break
        out.append(shown + "\n")
    return "".join(out)


_COLOURS = (("+++", "1"), ("---", "1"), ("diff ", "1"), ("+", "32"), ("-", "31"), ("@@", "36"))
