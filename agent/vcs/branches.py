"""``--branch NAME``: the session's work starts on a new branch, from where HEAD is."""

from __future__ import annotations

from pathlib import Path

from agent.vcs import git


class BranchError(Exception):
    """The branch was not started; the message says why."""


def start_branch(workspace: Path, name: str) -> str:
    """Create ``name`` at HEAD and switch to it (files untouched); staying on it when it is
    the current branch already. Returns what happened, in words."""
    repository = git.repository(workspace)
    if repository is None:
        raise BranchError(f"--branch {name} needs a git repository, and {workspace} is not in one.")
    what = repository.in_progress()
    if what:
        raise BranchError(f"--branch {name} is refused: {what} is in progress; finish it first.")
    valid = repository.run("check-ref-format", "--branch", name)
    if valid.returncode != 0 or name.startswith("-"):
        raise BranchError(f"'{name}' is not a valid branch name.")
    if repository.branch() == name:
        return f"on branch {name} already"
    exists = repository.run("rev-parse", "--verify", "--quiet", f"refs/heads/{name}")
    if exists.returncode == 0:
        raise BranchError(
            f"A branch {name} exists already; choose another name, or switch to it yourself."
        )
    done = repository.run("switch", "--quiet", "--create", name)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise BranchError(f"Branch {name} could not be started: {said[-1] if said else '?'}")
    return f"started branch {name}"
