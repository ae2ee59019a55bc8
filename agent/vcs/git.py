"""Every git command Shipmate runs, hardened against the repository it runs in.

git runs outside the sandbox, as the user, so nothing the workspace can write may steer it:

- The repository is found here, not by git: only a real ``.git`` folder (or a ``.git`` file
  naming one, as worktrees have) in the workspace or above it counts. A folder that merely
  looks like a bare repository (``HEAD``, ``objects/``, ``refs/`` written by a tool) never
  does, and a workspace that was not a repository when Shipmate first looked stays one
  without git for the rest of the process, whatever a command creates in it later. Every
  call then names ``--git-dir`` and ``--work-tree`` itself: git discovers nothing.
- Configuration that runs programs is switched off on the command line, which outranks every
  config file: fsmonitor, hooks (``core.hooksPath=/dev/null``; a commit may opt in, as the
  user's own git would run them there), pagers, external diff and textconv, credential
  helpers, network transports, and every filter or diff driver the repository's own config
  defines. Submodules are never recursed into: a nested repository in the workspace is
  writable by commands, and git would obey its config.
- The environment has no API keys (they never stay in ``os.environ``), none of the user's
  ``GIT_*`` redirections, and a PATH without folders inside the workspace; git itself is an
  absolute path found outside the workspace.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.executables import MissingProgram, require, trusted_path

TIMEOUT = 60.0
Setting = tuple[str, str]
HARDENING: tuple[Setting, ...] = (
    ("safe.bareRepository", "explicit"),
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
    ("core.untrackedCache", "false"),
    ("diff.external", ""),
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("protocol.allow", "never"),
    ("credential.helper", ""),
    ("core.askPass", ""),
    ("core.sshCommand", ""),
    ("log.showSignature", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
)
NO_HOOKS: Setting = ("core.hooksPath", "/dev/null")
# Keys whose value is a program; a repository's own config may not choose them.
_DRIVER_PROGRAMS = {
    "filter": ("clean", "smudge", "process"),
    "diff": ("textconv", "command"),
    "merge": ("driver",),
}
_UNTRUSTED_SCOPES = {"local", "worktree"}
# The user's identity and config choices pass through; redirections of git do not.
_KEPT_GIT_VARIABLES = {
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE",
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM",
}  # fmt: skip


# Commands that never run a filter or diff driver (objects and refs only, ``hash-object``
# reading stdin without ``--path``): they skip reading the repository's driver settings.
_NO_DRIVERS = frozenset({"cat-file", "hash-object", "mktree", "update-ref", "ls-tree", "rev-parse"})
_IN_PROGRESS = (
    ("MERGE_HEAD", "a merge"),
    ("rebase-merge", "a rebase"),
    ("rebase-apply", "a rebase"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"),
    ("REVERT_HEAD", "a revert"),
    ("BISECT_LOG", "a bisect"),
)


class GitError(Exception):
    """git failed or is missing; the message says what happened."""


def git_environment(config: Sequence[Setting] = ()) -> dict[str, str]:
    """The environment of a git process: ``config`` as command-line settings, passed the way
    that takes any key as it is (``-c`` would split a driver named ``x=y`` at its ``=``), and
    no transport at all (``GIT_ALLOW_PROTOCOL`` set and empty outranks every config file, so
    a partial clone's lazy fetch cannot run an ``ext::`` command)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GIT_") or name in _KEPT_GIT_VARIABLES
    }
    env.pop("PYTHONSAFEPATH", None)  # Shipmate's own; the user's hooks run as they expect
    env.update(
        PATH=trusted_path(),
        GIT_ALLOW_PROTOCOL="",
        GIT_NO_LAZY_FETCH="1",
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_EDITOR=":",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GIT_CONFIG_COUNT=str(len(config)),
    )
    for number, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


def _run(
    argv: list[str],
    cwd: Path,
    *,
    config: Sequence[Setting] = (),
    input: bytes | None = None,
    timeout: float = TIMEOUT,
    index: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    env = git_environment(config)
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=timeout,
        )
    except MissingProgram as error:
        raise GitError(str(error)) from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {argv[-1]!r} took over {timeout:g} s") from None
    except OSError as error:
        raise GitError(f"git could not start: {error}") from None


def version() -> str | None:
    """``git version 2.x``, or None when git is not installed."""
    try:
        done = _run([require("git"), "--version"], Path("/"))
    except GitError:
        return None
    return done.stdout.decode(errors="replace").strip() or None


@dataclass(frozen=True)
class Repository:
    """A work tree and its git folder, both found by ``repository()``."""

    root: Path
    git_dir: Path

    @property
    def common_dir(self) -> Path:
        """Where the objects, refs and config live (another folder for a linked worktree)."""
        return _common_dir(self.git_dir)

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        hooks: bool = False,
        timeout: float = TIMEOUT,
        cwd: Path | None = None,
        index: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """``git ARGS`` in this repository (from ``cwd``, a folder of the work tree), hardened;
        ``hooks`` only to ask where they are; ``index``: a private index instead of the
        user's (checkpoints and commits build their trees there)."""
        plumbing = bool(args) and args[0] in _NO_DRIVERS
        config = [*HARDENING, *([] if plumbing else self._driver_overrides())]
        if not hooks:
            config.append(NO_HOOKS)
        argv = [require_git(), "--no-pager", f"--git-dir={self.git_dir}"]
        argv += [f"--work-tree={self.root}", *args]
        return _run(
            argv, cwd or self.root, config=config, input=input, timeout=timeout, index=index
        )

    def check(self, *args: str, input: bytes | None = None, index: Path | None = None) -> bytes:
        """``git ARGS``'s output; GitError with git's own words when it fails."""
        done = self.run(*args, input=input, index=index)
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {said[-1] if said else done.returncode}")
        return done.stdout

    def head(self) -> str | None:
        """The commit HEAD names, None on a branch with no commit yet."""
        done = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if done.returncode != 0:
            return None
        return done.stdout.decode().strip() or None

    def store_blob(self, data: bytes) -> str:
        """Write ``data`` into the object store as it is (no filters): its id."""
        return (
            self.check("hash-object", "-w", "--no-filters", "--stdin", input=data).decode().strip()
        )

    def read_blob(self, blob: str) -> bytes:
        return self.check("cat-file", "blob", blob)

    def in_progress(self) -> str | None:
        """``a merge`` / ``a rebase`` / … when one is under way, else None."""
        for name, what in _IN_PROGRESS:
            if (self.git_dir / name).exists():
                return what
        return None

    def _driver_overrides(self) -> list[Setting]:
        """Program-running driver keys set by the repository's own config (or what it
        includes), blanked. Read again for every call: an included file may be one a command
        can write."""
        argv = [require_git(), f"--git-dir={self.git_dir}", "config", "--list", "--show-scope"]
        done = _run([*argv, "--includes", "-z"], self.root, config=[*HARDENING, NO_HOOKS])
        parts = done.stdout.split(b"\0")  # scope, "name\nvalue", scope, "name\nvalue", …
        found: list[str] = []
        for scope, entry in zip(parts[0::2], parts[1::2], strict=False):
            found += _driver_keys(entry.decode(errors="replace"), scope.decode(errors="replace"))
        return [(key, "") for key in dict.fromkeys(found)]

    def branch(self) -> str | None:
        """The current branch, ``HEAD`` when detached, None when git fails."""
        done = self.run("symbolic-ref", "--quiet", "--short", "HEAD")
        if done.returncode == 1:
            return "HEAD"  # detached
        if done.returncode != 0:
            return None
        return done.stdout.decode(errors="replace").strip() or None

    def files(self, folder: Path | None = None) -> list[str] | None:
        """Tracked files and untracked ones git does not ignore, relative to ``folder`` (the
        root by default) and under it; None if git fails."""
        done = self.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=folder)
        if done.returncode != 0:
            return None
        return [name for name in _split(done.stdout) if name]

    def ever_tracked(self, timeout: float = 10.0) -> list[str] | None:
        """Every path git tracks now or any commit ever held (None if git fails or takes
        longer than ``timeout``)."""
        now = self.run("ls-files", "-z", "--cached")
        if now.returncode != 0:
            return None
        try:
            history = self.run("log", "--all", "--name-only", "--format=", "-z", timeout=timeout)
        except GitError:
            return None
        if history.returncode != 0 and b"does not have any commits" not in history.stderr:
            return None
        return _split(now.stdout) + _split(history.stdout)

    def dirty(self) -> set[str]:
        """Files git reports as changed or untracked (submodules ignored)."""
        done = self.run(
            "status", "--porcelain", "-z", "--untracked-files=all", "--ignore-submodules=all"
        )
        if done.returncode != 0:
            return set()
        entries = _split(done.stdout)
        found: set[str] = set()
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if len(entry) < 4:
                continue
            found.add(entry[3:])
            if entry[0] in "RC":
                index += 1  # the name the file was renamed or copied from
        return found

    def ignored(self, paths: list[str]) -> set[str] | None:
        """Those of ``paths`` that .gitignore rules ignore (None if git fails)."""
        data = b"\0".join(os.fsencode(path) for path in paths)
        done = self.run("check-ignore", "--stdin", "-z", input=data)
        if done.returncode not in (0, 1):
            return None
        return set(_split(done.stdout))


def _driver_keys(entry: str, scope: str) -> list[str]:
    """``entry`` is ``name\\nvalue``; the keys to blank out if the repository set a driver."""
    if scope not in _UNTRUSTED_SCOPES:
        return []
    name = entry.split("\n", 1)[0]
    section, _, rest = name.partition(".")
    if "." not in rest:
        return []  # no driver named: ``filter.clean`` is not a driver's key
    driver, _, key = rest.rpartition(".")  # the driver's name may be empty: ``[filter ""]``
    programs = _DRIVER_PROGRAMS.get(section.lower())
    if programs is None or key.lower() not in programs:
        return []
    keys = [f"{section}.{driver}.{program}" for program in programs]
    if section.lower() == "filter":
        keys.append(f"filter.{driver}.required")
    return keys


def _split(data: bytes) -> list[str]:
    """NUL-separated names; bytes that are not UTF-8 stay as the OS gives them."""
    return [os.fsdecode(part) for part in data.split(b"\0") if part]


def chunks(paths: list[str], size: int = 500) -> list[list[str]]:
    """``paths`` in groups small enough for one command line."""
    return [paths[start : start + size] for start in range(0, len(paths), size)]


def require_git() -> str:
    try:
        return require("git")
    except MissingProgram as error:
        raise GitError(str(error)) from None


_found: dict[Path, Repository | None] = {}


def repository(start: Path) -> Repository | None:
    """The repository whose work tree holds ``start``, decided once per folder per process."""
    start = start.resolve()
    if start not in _found:
        _found[start] = _discover(start)
    return _found[start]


def forget() -> None:
    """Look again next time (for tests that create repositories after a first look)."""
    _found.clear()


def _discover(start: Path) -> Repository | None:
    ceilings = _ceilings()
    folder = start
    try:
        device = folder.stat().st_dev
    except OSError:
        return None
    across = os.environ.get("GIT_DISCOVERY_ACROSS_FILESYSTEM", "").lower() in ("1", "true", "yes")
    while True:
        git_dir = _git_dir_of(folder)
        if git_dir is not None:
            return Repository(folder, git_dir)
        parent = folder.parent
        if parent == folder or parent in ceilings:
            return None
        try:
            if not across and parent.stat().st_dev != device:
                return None
        except OSError:
            return None
        folder = parent


def _ceilings() -> set[Path]:
    """GIT_CEILING_DIRECTORIES, as git reads it: discovery never moves up into these."""
    value = os.environ.get("GIT_CEILING_DIRECTORIES", "")
    return {Path(entry).resolve() for entry in value.split(os.pathsep) if os.path.isabs(entry)}


def _git_dir_of(folder: Path) -> Path | None:
    """``folder/.git`` if it is a git folder, or the folder a ``.git`` file names."""
    dot_git = folder / ".git"
    try:
        if dot_git.is_dir():
            return dot_git.resolve() if _is_git_dir(dot_git) else None
        if dot_git.is_file():
            first = dot_git.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
            if not first.startswith("gitdir:"):
                return None
            target = Path(first.removeprefix("gitdir:").strip())
            target = (target if target.is_absolute() else folder / target).resolve()
            return target if _is_git_dir(target) and _points_back(target, folder) else None
    except OSError:
        return None
    return None


def _points_back(git_dir: Path, folder: Path) -> bool:
    """Whether ``git_dir`` names ``folder`` as its work tree, as git itself set it up: a
    linked worktree's ``gitdir`` file, or a submodule's ``core.worktree``. A ``.git`` file a
    command wrote can name any repository (a bare one in the home); that one does not."""
    try:
        back = (git_dir / "gitdir").read_text(encoding="utf-8", errors="replace").strip()
        if back and (git_dir / back).resolve() == (folder / ".git").resolve():
            return True
    except OSError:
        pass
    try:
        config = (git_dir / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for found in _WORKTREE.finditer(config):
        named = Path(found.group(1).strip().strip('"'))
        if (git_dir / named).resolve() == folder.resolve():
            return True
    return False


_WORKTREE = re.compile(r"(?im)^\s*worktree\s*=\s*(.+?)\s*$")


def _is_git_dir(path: Path) -> bool:
    """As git checks it: a HEAD, and objects and refs (in the common folder of a worktree).

    The common folder must be the folder itself or hold it (``<repo>/worktrees/<name>``): a
    ``commondir`` file a command wrote could otherwise name any repository on the machine.
    """
    try:
        if not (path / "HEAD").is_file():
            return False
        common = _common_dir(path)
        if not path.resolve().is_relative_to(common):
            return False
        return (common / "objects").is_dir() and (common / "refs").is_dir()
    except OSError:
        return False


def _common_dir(git_dir: Path) -> Path:
    commondir = git_dir / "commondir"
    try:
        named = Path(commondir.read_text(encoding="utf-8", errors="replace").strip())
    except OSError:
        return git_dir
    return (named if named.is_absolute() else git_dir / named).resolve()
