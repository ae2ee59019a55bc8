"""Which files the index reads: the repository's own source, not what it vendors or builds.

Files come from git (tracked, plus untracked-but-not-ignored) or, outside git, a
gitignore-aware walk. Skipped: vendored folders, lock files, minified bundles, binaries,
files over a size limit, and whatever ``.shipmateignore`` (gitignore syntax) names.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from agent.vcs import git
from tools.listing import Limit, TooManyFiles, workspace_files
from tools.names import on_disk, real_name, safe_text
from tools.secret_files import is_secret_path

if TYPE_CHECKING:
    import pathspec

MAX_FILE_BYTES = 1_000_000
DEFAULT_MAX_FILES = 50_000
IGNORE_FILE = ".shipmateignore"
VENDORED_DIRS = frozenset({
    "node_modules", "bower_components", "vendor", "third_party", ".venv", "venv",
    "site-packages", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache", ".git",
})  # fmt: skip
LOCK_FILES = frozenset({
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "Cargo.lock",
    "poetry.lock", "Pipfile.lock", "uv.lock", "Gemfile.lock", "composer.lock", "go.sum",
    "bun.lockb", "flake.lock",
})  # fmt: skip
GENERATED_SUFFIXES = (".min.js", ".min.css", ".min.mjs", ".map", ".lock", ".pyc")
SNIFF_BYTES = 8192
MINIFIED_LINE = 1000


class IndexRefused(Exception):
    """This folder is not indexed (a home folder, ``/``, or too big outside git); the
    message says why and what to do."""


def check_root(root: Path) -> None:
    """Refuse the folders whose listing would read everything the user has: ``/`` and the
    home folder (a dotfiles repository there would still list every untracked file)."""
    root = root.resolve()
    if root == Path(root.anchor):
        where = "the root of the file system"
    elif root == Path.home().resolve():
        where = "your home folder"
    else:
        return
    raise IndexRefused(
        f"{root} is {where}, too broad to index; run Shipmate in a project folder "
        "(cd into it, or pass -C DIR)."
    )


def candidate_files(
    root: Path, max_files: Limit = DEFAULT_MAX_FILES
) -> tuple[list[str], dict[str, str]]:
    """Paths (relative, sorted) worth indexing, judged by name alone, and those left out
    with why (a vendored folder is named once, as ``vendor/``).

    Outside git, a folder of more than ``max_files`` files is refused (``IndexRefused``);
    given as a function, it is asked for only then.
    """
    check_root(root)
    try:
        listed = workspace_files(root, max_files)
    except TooManyFiles as error:
        raise IndexRefused(
            f"{root} is not a git repository and holds more than {error.limit:,} files, too "
            "many to index; run Shipmate in a project folder, or raise index_max_files "
            "(SHIPMATE_INDEX_MAX_FILES) to index it anyway."
        ) from None
    ignore = _ignore_spec(root)
    wanted: list[str] = []
    skipped: dict[str, str] = {}
    for path in listed:
        shown = safe_text(path)
        reason = _why_not(path, ignore)
        if reason is None:
            wanted.append(shown)
        elif reason == "vendored":
            parts = PurePosixPath(shown).parts
            folder = next(i for i, part in enumerate(parts[:-1]) if part in VENDORED_DIRS)
            skipped["/".join(parts[: folder + 1]) + "/"] = reason
        else:
            skipped[shown] = reason
    return wanted, skipped


def admissible(root: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` (new since the last listing) that belong in the index."""
    ignore = _ignore_spec(root)
    paths = [path for path in paths if _why_not(path, ignore) is None and _regular(root, path)]
    if not paths:
        return []
    repository = git.repository(root)
    if repository is None:
        return paths
    try:
        ignored = repository.ignored([real_name(path) for path in paths])
    except git.GitError:
        return paths
    if ignored is None:
        return paths
    return [path for path in paths if real_name(path) not in ignored]


def is_artifact(path: str) -> bool:
    """Vendored, locked or generated (``__pycache__/x.pyc``): not the project's own source."""
    return _why_not(path, None) is not None


def _why_not(path: str, ignore: pathspec.PathSpec | None) -> str | None:
    """Why the index leaves ``path`` out by its name, or None if it does not."""
    *folders, name = path.split("/")
    if VENDORED_DIRS.intersection(folders):
        return "vendored"
    if name in LOCK_FILES:
        return "lock file"
    if is_secret_path(path):  # never parsed, so no map, outline or symbol shows its text
        return "secret file"
    if name.endswith(GENERATED_SUFFIXES):
        return "generated"
    if ignore is not None and ignore.match_file(path):
        return IGNORE_FILE
    return None


def _regular(root: Path, path: str) -> bool:
    """A file reached without a symlink, as in the listing (a link may lead out of the root)."""
    full = on_disk(root, path)
    if full.is_symlink() or not full.is_file():
        return False
    return not any((root / parent).is_symlink() for parent in PurePosixPath(path).parents)


def _ignore_spec(root: Path) -> pathspec.PathSpec | None:
    try:
        lines = (root / IGNORE_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    import pathspec  # only with that file (its import is a fifth of a warm start's)

    return pathspec.GitIgnoreSpec.from_lines(lines)


def unreadable_reason(data: bytes) -> str | None:
    """Why content is not indexed: a binary, or minified code (very long lines)."""
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        return "binary"
    lines = head.split(b"\n")
    long_lines = max(len(line) for line in lines) > MINIFIED_LINE
    dense = len(head) / len(lines) > MINIFIED_LINE / 4
    if len(head) >= 2 * MINIFIED_LINE and long_lines and dense:
        return "minified"
    return None
