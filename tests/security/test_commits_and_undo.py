"""Attacks on commits, checkpoints and undo: git runs as the user outside the sandbox, so
nothing the workspace (or a prompt-injected model) controls may ride along with it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from security_helpers import SECRET, Guard, Site

from agent.events import ToolFinished
from agent.frontends.changes import session_blobs
from agent.vcs.undo import UndoError, undo
from tools.sandbox import Bubblewrap

from helpers import drain, git, make_agent
from scripted_llm import Reply, ScriptedLLM, tool

ESCAPE = (
    "#!/bin/sh\n"
    "echo ran > hook-ran.txt\n"
    "echo pwned > {outside}/pwned.txt 2>/dev/null\n"
    "echo pwned >> {home}/.bashrc 2>/dev/null\n"
    "exit 0\n"
)


@pytest.fixture
def repo(site: Site) -> Path:
    ws = site.ws
    (ws / "app.py").write_text("x = 1\n")
    (ws / "sub").mkdir()
    (ws / "sub" / "mod.py").write_text("y = 2\n")
    git(ws, "init", "-q", "-b", "main")
    git(ws, "config", "user.name", "Ada User")
    git(ws, "config", "user.email", "ada@example.com")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "initial")
    return ws


async def test_attack_hook_written_by_a_command_runs_only_in_the_sandbox(
    repo: Path,
    site: Site,
    llm: ScriptedLLM,
    watch: Callable[..., Guard],
    bubblewrap: Bubblewrap,
) -> None:
    """The repository keeps its hooks in the work tree (``core.hooksPath=.husky``, as husky
    sets it); a sandboxed command plants a pre-commit hook there, then the model commits,
    which auto-edit allows without asking: the hook must not run as the user."""
    git(repo, "config", "core.hooksPath", ".husky")
    hook = ESCAPE.format(outside=site.outside, home=site.home)
    plant = (
        f"mkdir -p .husky && printf '%b' {hook!r} > .husky/pre-commit && chmod +x .husky/pre-commit"
    )
    llm.add(
        Reply(calls=[tool("run_command", command=plant)]),
        Reply(calls=[tool("edit_file", path="app.py", old_text="x = 1", new_text="x = 3")]),
        Reply(calls=[tool("git_commit", message="Change x")]),
        Reply(text="done"),
    )
    guard = watch()
    agent = make_agent(llm, repo, approval="full-auto")
    events = await drain(agent, "plant and commit")
    commit = next(e for e in events if isinstance(e, ToolFinished) and e.name == "git_commit")
    assert commit.status == "ok", commit.output
    assert (repo / "hook-ran.txt").read_text() == "ran\n"  # it ran, inside the sandbox
    guard.check()


async def test_attack_undo_through_a_folder_swapped_for_a_link(
    repo: Path, site: Site, llm: ScriptedLLM, watch: Callable[..., Guard], bubblewrap: Bubblewrap
) -> None:
    """After the agent edits sub/mod.py, a command swaps ``sub`` for a link to a folder
    outside; undo (even forced) must not write the old content through it."""
    (site.outside / "mod.py").write_text(SECRET)
    swap = f"rm -rf sub && ln -s {site.outside} sub"
    llm.add(
        Reply(calls=[tool("edit_file", path="sub/mod.py", old_text="y = 2", new_text="y = 5")]),
        Reply(calls=[tool("run_command", command=swap)]),
        Reply(text="done"),
    )
    guard = watch()
    agent = make_agent(llm, repo, approval="full-auto")
    await drain(agent, "edit then swap")
    assert (repo / "sub").is_symlink()
    blobs = session_blobs(repo, agent.session_id)
    with pytest.raises(UndoError, match=r"sub/mod\.py"):
        await undo(repo, agent.session_id, agent.store, blobs)
    with pytest.raises(UndoError):
        await undo(repo, agent.session_id, agent.store, blobs, force=True)
    guard.check()
    assert (site.outside / "mod.py").read_text() == SECRET


async def test_attack_checkpoint_of_a_link_to_a_secret_keeps_no_copy(
    repo: Path, site: Site, llm: ScriptedLLM, bubblewrap: Bubblewrap
) -> None:
    """A command replaces a tracked file with a link to a secret outside: the checkpoint
    reads files without following links, so the secret never enters git's object store
    (where the model could later read it with git show)."""
    swap = f"rm app.py && ln -s {site.secret} app.py && echo z > new.txt"
    llm.add(Reply(calls=[tool("run_command", command=swap)]), Reply(text="done"))
    agent = make_agent(llm, repo, approval="full-auto")
    await drain(agent, "swap")
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True
    ).stdout
    assert SECRET.encode() not in objects
    assert b"z\n" in objects  # the new file was kept


async def test_attack_commit_never_takes_a_new_secret_file_or_the_users_work(
    repo: Path, llm: ScriptedLLM, bubblewrap: Bubblewrap
) -> None:
    """Auto-commit first commits the user's uncommitted work on files the agent edits, but
    never a secret file the user keeps untracked; and the agent's commit holds its files
    only."""
    (repo / ".env").write_text("TOKEN=user-secret\n")
    (repo / "notes.md").write_text("user notes\n")
    llm.add(
        Reply(calls=[tool("edit_file", path="app.py", old_text="x = 1", new_text="x = 4")]),
        Reply(text="done"),
        Reply(text="Set x to 4"),
    )
    agent = make_agent(llm, repo, approval="auto-edit", auto_commit=True)
    await drain(agent, "x = 4")
    committed = git(repo, "log", "--name-only", "--format=", "main").split()
    assert ".env" not in committed and "notes.md" not in committed
    assert git(repo, "status", "--porcelain", "--untracked-files=all").split("\n")[:2] == [
        "?? .env",
        "?? notes.md",
    ]
    assert os.path.exists(repo / ".env")
