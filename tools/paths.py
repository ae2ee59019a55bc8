"""Confinement of every file path the model names to the workspace.

Paths are resolved with symlinks followed before the check, so ``../``, absolute paths and
links that lead out all end up outside and are refused the same way.
"""

from __future__ import annotations

from pathlib import Path

from tools.base import ToolContext, ToolError


def resolve(ctx: ToolContext, raw: str, *, for_write: bool = False) -> Path:
    """The real path of ``raw`` inside the workspace, or a ToolError saying why not."""
    text = raw.strip()
    if not text:
        raise ToolError("The path is empty; give a path relative to the workspace root.")
    if "\x00" in text:
        raise ToolError("The path contains a NUL byte.")
    if text.startswith("~"):
        raise ToolError(
            f"'{raw}' points into a home directory; only files inside the workspace "
            f"({ctx.workspace}) can be used. Give a path relative to the workspace root."
        )
    candidate = Path(text)
    if not candidate.is_absolute():
        candidate = ctx.workspace / candidate
    try:
        real = candidate.resolve()
    except (RuntimeError, OSError) as error:  # a symlink loop: RuntimeError before 3.13
        raise ToolError(f"'{raw}' cannot be resolved: {error}.") from None
    if not real.is_relative_to(ctx.workspace):
        raise ToolError(
            f"'{raw}' is outside the workspace ({ctx.workspace}); only files inside it can be "
            "used. Give a path relative to the workspace root."
        )
    if for_write and _inside_git_dir(ctx, real):
        raise ToolError(f"'{raw}' is inside .git; git internals are not edited directly.")
    return real


def _inside_git_dir(ctx: ToolContext, path: Path) -> bool:
    return ".git" in path.relative_to(ctx.workspace).parts
