"""The files of a workspace as git sees them, or as a .gitignore-aware walk sees them."""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.vcs import git

if TYPE_CHECKING:
    import pathspec

# Skipped by the walk outside git, where no .gitignore may say so.
ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__"}


# The most files a walk outside git may find, or a function giving it: asked only when a
# walk runs, so a caller in a repository never reads the settings that hold it.
Limit = int | Callable[[], int] | None


class TooManyFiles(Exception):
    """Outside git, the walk found more files than the caller's limit (and stopped there)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def workspace_files(root: Path, limit: Limit = None) -> list[str]:
    """Paths relative to ``root``, sorted: tracked and untracked-but-not-ignored files.

    Outside git, a walk that finds more than ``limit`` files stops at once with
    ``TooManyFiles``: a big folder (``/usr/lib``) is not walked to the end just to count.
    """
    listed = _git_files(root)
    if listed is None:
        listed = _walk(root, limit() if callable(limit) else limit)
    return sorted(listed)


def _git_files(root: Path) -> list[str] | None:
    repository = git.repository(root)
    if repository is None or repository.root != root.resolve():
        return None
    try:
        names = repository.files()
    except git.GitError:
        return None
    if names is None:
        return None
    # Only regular files, reached through no symbolic link, as in the walk below and in
    # ripgrep: a link may lead out of the root, and so may a folder a command swapped for a
    # link after git listed what is in it. One lstat a file, one a folder (as strings: a
    # Path per name costs more than the call).
    top = str(root)
    linked = {folder for folder in _folders(names) if os.path.islink(f"{top}/{folder}")}
    found = []
    for name in set(names):
        try:
            if not stat.S_ISREG(os.lstat(f"{top}/{name}").st_mode):
                continue
        except OSError:
            continue
        if linked and any(parent in linked for parent in _parents(name)):
            continue
        found.append(name)
    return found


def _parents(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def _folders(names: list[str]) -> set[str]:
    """Every folder on the way to ``names``."""
    folders: set[str] = set()
    for name in names:
        folder = name.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    return folders


def dirty_files(root: Path) -> set[str]:
    """Files git reports as changed or untracked; empty outside git."""
    repository = git.repository(root)
    if repository is None:
        return set()
    try:
        return repository.dirty()
    except git.GitError:
        return set()


def _walk(root: Path, limit: int | None = None) -> list[str]:
    """Every regular file under ``root`` that no .gitignore on its way ignores.

    Regular files only: a FIFO would block whoever reads it, and a link may lead out.
    """
    found: list[str] = []
    specs: list[tuple[str, pathspec.PathSpec]] = []  # (folder relative to root, its rules)
    pending = [""]
    while pending:
        folder = pending.pop()
        here = os.path.join(root, folder) if folder else str(root)
        try:
            entries = sorted(os.scandir(here), key=lambda entry: entry.name)
        except OSError:
            continue
        if any(entry.name == ".gitignore" and entry.is_file() for entry in entries):
            import pathspec  # only outside git (its import is a fifth of a warm start's)

            with open(os.path.join(here, ".gitignore"), encoding="utf-8", errors="replace") as f:
                specs.append((folder, pathspec.GitIgnoreSpec.from_lines(f.read().splitlines())))
        active = [(base, spec) for base, spec in specs if not base or folder == base
                  or folder.startswith(base + "/")]  # fmt: skip
        for entry in entries:
            relative = f"{folder}/{entry.name}" if folder else entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in ALWAYS_SKIPPED_DIRS and not _ignored(relative + "/", active):
                    pending.append(relative)
            elif entry.is_file(follow_symlinks=False) and not _ignored(relative, active):
                found.append(relative)
                if limit is not None and len(found) > limit:
                    raise TooManyFiles(limit)
    return found


def _ignored(relative: str, active: list[tuple[str, pathspec.PathSpec]]) -> bool:
    for base, spec in active:
        if spec.match_file(relative[len(base) + 1 :] if base else relative):
            return True
    return False


@functools.lru_cache(maxsize=64)
def glob_matcher(pattern: str) -> re.Pattern[str]:
    """Compile a glob: ``*`` stays within a folder, ``**`` crosses folders, ``{a,b}`` picks.

    A pattern without a slash matches a file's name at any depth, as in .gitignore; a leading
    slash anchors it at the root.
    """
    pattern = pattern.strip().removeprefix("./")
    anywhere = "/" not in pattern
    pattern = pattern.removeprefix("/")
    regex = _glob_to_regex(pattern)
    return re.compile(("(?:.*/)?" if anywhere else "") + regex + r"\Z")


def exact_glob(relative: str) -> str:
    """A pattern matching only this path (relative to the root), whatever characters it has."""
    return "/" + re.sub(r"([*?\[{])", r"[\1]", relative)


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\").replace("[", "\\[")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                options = pattern[i + 1 : end].split(",")
                out.append("(?:" + "|".join(_glob_to_regex(o) for o in options) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
