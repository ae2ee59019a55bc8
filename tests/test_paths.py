"""Confinement of paths to the workspace: tools.paths.resolve and every file tool through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.edit import EditFile
from tools.files import ListFiles, ReadFile, WriteFile
from tools.paths import resolve
from tools.search import Grep

from helpers import git

SECRET = "top secret outside the workspace\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with one file inside, and a sibling folder outside it."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "inside.txt").write_text("hello inside\n")
    (root / "sub").mkdir()
    (root / "sub" / "deep.txt").write_text("deep inside\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    return root


@pytest.fixture
def linked(ws: Path, tmp_path: Path) -> Path:
    """Symlinks inside the workspace that lead out: one to a file, one to a folder."""
    (ws / "link_file.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (ws / "link_dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    return ws


# --- resolve() itself -----------------------------------------------------------------------


def test_resolve_relative_path_inside(ctx: ToolContext, ws: Path) -> None:
    assert resolve(ctx, "sub/deep.txt") == (ws / "sub" / "deep.txt").resolve()


def test_resolve_dot_is_workspace_root(ctx: ToolContext) -> None:
    assert resolve(ctx, ".") == ctx.workspace


def test_resolve_refuses_dotdot_escape(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "../outside/secret.txt")


def test_resolve_refuses_dotdot_escape_through_subfolder(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "sub/../../outside/secret.txt")


def test_resolve_allows_dotdot_that_stays_inside(ctx: ToolContext, ws: Path) -> None:
    assert resolve(ctx, "sub/../inside.txt") == (ws / "inside.txt").resolve()


def test_resolve_refuses_absolute_path_outside(ctx: ToolContext, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, str(tmp_path / "outside" / "secret.txt"))


def test_resolve_refuses_etc_passwd(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "/etc/passwd")


def test_resolve_allows_absolute_path_inside(ctx: ToolContext, ws: Path) -> None:
    absolute = str(ws.resolve() / "inside.txt")
    assert resolve(ctx, absolute) == ws.resolve() / "inside.txt"


def test_resolve_refuses_home_tilde(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="home directory"):
        resolve(ctx, "~/x")


def test_resolve_refuses_nul_byte(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="NUL"):
        resolve(ctx, "inside.txt\x00.py")


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_resolve_refuses_empty_path(ctx: ToolContext, raw: str) -> None:
    with pytest.raises(ToolError, match="empty"):
        resolve(ctx, raw)


def test_resolve_refuses_symlink_to_outside_file(ctx: ToolContext, linked: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "link_file.txt")


def test_resolve_refuses_path_through_symlinked_dir(ctx: ToolContext, linked: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "link_dir/secret.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "link_dir")


def test_resolve_allows_symlink_inside_workspace(ctx: ToolContext, ws: Path) -> None:
    (ws / "alias.txt").symlink_to(ws / "inside.txt")
    assert resolve(ctx, "alias.txt") == (ws / "inside.txt").resolve()


def test_resolve_git_dir_refused_only_for_write(ctx: ToolContext, ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    assert resolve(ctx, ".git/config") == (ws / ".git" / "config").resolve()
    with pytest.raises(ToolError, match=r"\.git"):
        resolve(ctx, ".git/config", for_write=True)
    with pytest.raises(ToolError, match=r"\.git"):
        resolve(ctx, "sub/../.git/hooks/pre-commit", for_write=True)


def test_resolve_git_dir_of_nested_repository_refused_for_write(ctx: ToolContext, ws: Path) -> None:
    (ws / "vendor" / "lib" / ".git").mkdir(parents=True)
    with pytest.raises(ToolError, match=r"\.git"):
        resolve(ctx, "vendor/lib/.git/config", for_write=True)


def test_resolve_allows_names_that_merely_start_with_git(ctx: ToolContext, ws: Path) -> None:
    assert resolve(ctx, ".gitignore", for_write=True) == ws.resolve() / ".gitignore"
    assert resolve(ctx, ".github/ci.yml", for_write=True) == ws.resolve() / ".github/ci.yml"


def test_workspace_given_through_symlink_still_confines(tmp_path: Path, ws: Path) -> None:
    alias = tmp_path / "ws_alias"
    alias.symlink_to(ws, target_is_directory=True)
    ctx = ToolContext(workspace=alias, log_dir=tmp_path / "logs")
    assert resolve(ctx, "inside.txt") == ws.resolve() / "inside.txt"
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve(ctx, "../outside/secret.txt")


# --- through read_file -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["../outside/secret.txt", "~/x", "/etc/passwd", "", "a\x00b", "link_file.txt"],
)
async def test_read_file_refuses_bad_paths(ctx: ToolContext, linked: Path, raw: str) -> None:
    with pytest.raises(ToolError):
        await ReadFile(path=raw).run(ctx)


async def test_read_file_refuses_file_symlink_to_outside(ctx: ToolContext, linked: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await ReadFile(path="link_file.txt").run(ctx)


async def test_read_file_refuses_dir_symlink_to_outside(ctx: ToolContext, linked: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await ReadFile(path="link_dir/secret.txt").run(ctx)


async def test_read_file_absolute_inside_allowed(ctx: ToolContext, ws: Path) -> None:
    result = await ReadFile(path=str(ws / "inside.txt")).run(ctx)
    assert "hello inside" in result.output


async def test_read_file_through_inside_symlink_allowed(ctx: ToolContext, ws: Path) -> None:
    (ws / "alias.txt").symlink_to("inside.txt")
    result = await ReadFile(path="alias.txt").run(ctx)
    assert "hello inside" in result.output


# --- through write_file ----------------------------------------------------------------------


async def test_write_file_refuses_dotdot(ctx: ToolContext, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await WriteFile(path="../escaped.txt", content="x").run(ctx)
    assert not (tmp_path / "escaped.txt").exists()


async def test_write_file_refuses_absolute_outside(ctx: ToolContext, tmp_path: Path) -> None:
    target = tmp_path / "outside" / "new.txt"
    with pytest.raises(ToolError, match="outside the workspace"):
        await WriteFile(path=str(target), content="x").run(ctx)
    assert not target.exists()


async def test_write_file_refuses_tilde(ctx: ToolContext, isolated_home: Path) -> None:
    with pytest.raises(ToolError, match="home directory"):
        await WriteFile(path="~/x", content="x").run(ctx)
    assert not (isolated_home / "x").exists()


async def test_write_file_refuses_file_symlink_to_outside(
    ctx: ToolContext, linked: Path, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await WriteFile(path="link_file.txt", content="pwned\n").run(ctx)
    assert (tmp_path / "outside" / "secret.txt").read_text() == SECRET


async def test_write_file_refuses_dir_symlink_to_outside(
    ctx: ToolContext, linked: Path, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await WriteFile(path="link_dir/new.txt", content="pwned\n").run(ctx)
    assert not (tmp_path / "outside" / "new.txt").exists()


async def test_write_file_refuses_nul_and_empty(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="NUL"):
        await WriteFile(path="a\x00b", content="x").run(ctx)
    with pytest.raises(ToolError, match="empty"):
        await WriteFile(path="", content="x").run(ctx)


async def test_write_file_refuses_git_dir(ctx: ToolContext, ws: Path) -> None:
    git(ws, "init", "-q")
    with pytest.raises(ToolError, match=r"\.git"):
        await WriteFile(path=".git/hooks/pre-commit", content="#!/bin/sh\n").run(ctx)
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()


async def test_write_file_absolute_inside_allowed(ctx: ToolContext, ws: Path) -> None:
    await WriteFile(path=str(ws / "new.txt"), content="fresh\n").run(ctx)
    assert (ws / "new.txt").read_text() == "fresh\n"


async def test_write_file_through_inside_symlink_writes_target(ctx: ToolContext, ws: Path) -> None:
    (ws / "alias.txt").symlink_to("inside.txt")
    await ReadFile(path="alias.txt").run(ctx)
    await WriteFile(path="alias.txt", content="rewritten\n").run(ctx)
    assert (ws / "inside.txt").read_text() == "rewritten\n"


# --- through edit_file -----------------------------------------------------------------------


async def test_edit_file_refuses_dotdot(ctx: ToolContext, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await EditFile(path="../outside/secret.txt", old_text="top", new_text="bottom").run(ctx)
    assert (tmp_path / "outside" / "secret.txt").read_text() == SECRET


async def test_edit_file_refuses_absolute_outside(ctx: ToolContext, tmp_path: Path) -> None:
    target = tmp_path / "outside" / "secret.txt"
    with pytest.raises(ToolError, match="outside the workspace"):
        await EditFile(path=str(target), old_text="top", new_text="bottom").run(ctx)
    assert target.read_text() == SECRET


async def test_edit_file_refuses_file_symlink_to_outside(
    ctx: ToolContext, linked: Path, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await EditFile(path="link_file.txt", old_text="top", new_text="bottom").run(ctx)
    assert (tmp_path / "outside" / "secret.txt").read_text() == SECRET


async def test_edit_file_refuses_dir_symlink_to_outside(
    ctx: ToolContext, linked: Path, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await EditFile(path="link_dir/secret.txt", old_text="top", new_text="bottom").run(ctx)
    assert (tmp_path / "outside" / "secret.txt").read_text() == SECRET


async def test_edit_file_refuses_git_dir(ctx: ToolContext, ws: Path) -> None:
    git(ws, "init", "-q")
    before = (ws / ".git" / "HEAD").read_text()
    with pytest.raises(ToolError, match=r"\.git"):
        await EditFile(path=".git/HEAD", old_text="ref", new_text="REF").run(ctx)
    assert (ws / ".git" / "HEAD").read_text() == before


async def test_edit_file_refuses_tilde_nul_empty(ctx: ToolContext) -> None:
    for raw in ("~/x", "a\x00b", " "):
        with pytest.raises(ToolError):
            await EditFile(path=raw, old_text="a", new_text="b").run(ctx)


async def test_edit_file_through_inside_symlink_allowed(ctx: ToolContext, ws: Path) -> None:
    (ws / "alias.txt").symlink_to("inside.txt")
    await EditFile(path="alias.txt", old_text="hello", new_text="howdy").run(ctx)
    assert (ws / "inside.txt").read_text() == "howdy inside\n"


# --- through list_files ----------------------------------------------------------------------


async def test_list_files_refuses_dotdot(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await ListFiles(path="..").run(ctx)


async def test_list_files_refuses_absolute_outside(ctx: ToolContext, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await ListFiles(path=str(tmp_path / "outside")).run(ctx)


async def test_list_files_refuses_dir_symlink_to_outside(ctx: ToolContext, linked: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await ListFiles(path="link_dir").run(ctx)


async def test_list_files_refuses_tilde(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="home directory"):
        await ListFiles(path="~").run(ctx)


async def test_list_files_absolute_inside_allowed(ctx: ToolContext, ws: Path) -> None:
    result = await ListFiles(path=str(ws / "sub")).run(ctx)
    assert result.output.splitlines() == ["sub/deep.txt"]


@pytest.mark.parametrize("use_git", [False, True], ids=["walk", "git"])
async def test_list_files_does_not_descend_into_outside_links(
    ctx: ToolContext, linked: Path, use_git: bool
) -> None:
    if use_git:
        git(linked, "init", "-q")
    result = await ListFiles().run(ctx)
    listed = result.output.splitlines()
    assert "inside.txt" in listed
    assert "link_dir/secret.txt" not in listed
    assert not any("secret" in line for line in listed)


# --- through grep ----------------------------------------------------------------------------


async def test_grep_refuses_dotdot(ctx: ToolContext, engine: str) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await Grep(pattern="secret", path="../outside").run(ctx)


async def test_grep_refuses_absolute_outside(ctx: ToolContext, tmp_path: Path, engine: str) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await Grep(pattern="secret", path=str(tmp_path / "outside")).run(ctx)


async def test_grep_refuses_file_symlink_to_outside(
    ctx: ToolContext, linked: Path, engine: str
) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await Grep(pattern="secret", path="link_file.txt").run(ctx)


async def test_grep_refuses_dir_symlink_to_outside(
    ctx: ToolContext, linked: Path, engine: str
) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await Grep(pattern="secret", path="link_dir").run(ctx)


@pytest.mark.parametrize("use_git", [False, True], ids=["walk", "git"])
async def test_grep_whole_workspace_does_not_follow_outside_links(
    ctx: ToolContext, linked: Path, engine: str, use_git: bool
) -> None:
    if use_git:
        git(linked, "init", "-q")
    result = await Grep(pattern="top secret").run(ctx)
    assert result.output == "No matches."
    assert "secret outside" not in result.output


async def test_grep_absolute_inside_allowed(ctx: ToolContext, ws: Path, engine: str) -> None:
    result = await Grep(pattern="deep", path=str(ws / "sub")).run(ctx)
    assert result.output.splitlines() == ["sub/deep.txt:1:deep inside"]


def test_resolve_symlink_loop_is_a_tool_error(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a").symlink_to(workspace / "b")
    (workspace / "b").symlink_to(workspace / "a")
    with pytest.raises(ToolError, match="cannot be resolved"):
        resolve(ToolContext(workspace=workspace), "a/file.txt")
