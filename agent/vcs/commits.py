"""Commits of exactly the files Shipmate names, never anything else the user has staged.

The tree is built in a private index (HEAD plus those files as they are on disk), committed
with ``commit-tree`` and HEAD moved with ``update-ref`` against the HEAD it was built on,
so a commit the user makes meanwhile is never overwritten. The user's own index then gets
the same entries for those files and nothing else. The author is the user, as git config
names them.

The repository's hooks run (pre-commit, prepare-commit-msg, commit-msg, post-commit), but
inside the sandbox like any command: a hook is a program the workspace can change, and a
commit runs without asking in auto-edit mode.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent.vcs import git
from agent.vcs.checkpoints import read_file
from tools.secret_files import is_secret_path

# Runs a command line in the sandbox, that may also write the given folder: (exit code, output).
HookRunner = Callable[[str, Path], Awaitable[tuple[int, str]]]
SUBJECT_LIMIT = 72
TRAILER_EMAIL = "shipmate@users.noreply.github.com"
WIP_MESSAGE = "WIP: your changes before Shipmate's edit"


class CommitError(Exception):
    """The commit was not made; the message says why (and a hook's output, when one failed)."""


def co_author(model: str) -> str:
    return f"Co-authored-by: Shipmate ({model}) <{TRAILER_EMAIL}>"


def with_trailer(message: str, trailer: str) -> str:
    message = message.strip()
    if trailer in message:
        return message + "\n"
    return f"{message}\n\n{trailer}\n"


def identity_problem(repository: git.Repository) -> str | None:
    """Why git cannot name an author here (no user.name / user.email), or None."""
    done = repository.run("var", "GIT_AUTHOR_IDENT")
    if done.returncode == 0:
        return None
    return (
        "git does not know who you are, so nothing can be committed: run git config --global "
        "user.name 'Your Name' and git config --global user.email you@example.com."
    )


def committable(repository: git.Repository, paths: list[str]) -> tuple[list[str], list[str]]:
    """Those of ``paths`` that differ from HEAD, and apart those left out: files that usually
    hold secrets which HEAD does not track yet (a new ``.env`` is never committed for you)."""
    changed = changed_paths(repository, paths)
    secret = [path for path in changed if is_secret_path(path)]
    tracked = set()
    if secret and repository.head():
        listed = repository.run(
            "--literal-pathspecs", "ls-tree", "-z", "--name-only", "HEAD", "--", *secret
        )
        tracked = {os.fsdecode(name) for name in listed.stdout.split(b"\0") if name}
    left_out = [path for path in secret if path not in tracked]
    return [path for path in changed if path not in left_out], left_out


def changed_paths(repository: git.Repository, paths: list[str]) -> list[str]:
    """Those of ``paths`` whose file differs from HEAD (or that HEAD lacks)."""
    if not paths:
        return []
    dirty: set[str] = set()
    for chunk in git.chunks(paths):
        done = repository.run(
            "--literal-pathspecs", "status", "--porcelain", "-z", "--untracked-files=all",
            "--no-renames", "--", *chunk,
        )  # fmt: skip
        if done.returncode != 0:
            return []
        dirty |= {os.fsdecode(entry[3:]) for entry in done.stdout.split(b"\0") if len(entry) > 3}
    return [path for path in paths if path in dirty]


async def commit_files(
    repository: git.Repository,
    paths: list[str],
    message: str,
    *,
    run_hook: HookRunner | None = None,
) -> str:
    """Commit ``paths`` as they are on disk with ``message``; the new commit's id.
    ``run_hook`` None: no hooks (a WIP commit of the user's own changes, an undo)."""
    what = repository.in_progress()
    if what:
        raise CommitError(f"{what} is in progress; finish it before Shipmate commits.")
    if problem := identity_problem(repository):
        raise CommitError(problem)
    head = repository.head()
    folder = Path(tempfile.mkdtemp(prefix="shipmate-commit-"))
    try:
        index = folder / "index"
        if head:
            repository.check("read-tree", head, index=index)
        else:
            repository.check("read-tree", "--empty", index=index)
        entries = _entries(repository, paths)
        repository.check("update-index", "-z", "--index-info", input=entries, index=index)
        tree = repository.check("write-tree", index=index).decode().strip()
        if head and tree == repository.check("rev-parse", f"{head}^{{tree}}").decode().strip():
            raise CommitError("Nothing to commit: the files are as the last commit has them.")
        message_file = folder / "COMMIT_EDITMSG"
        message_file.write_text(message, encoding="utf-8")
        if run_hook is not None:
            await _hook(repository, run_hook, folder, "pre-commit")
            await _hook(repository, run_hook, folder, "prepare-commit-msg", message_file, "message")
            await _hook(repository, run_hook, folder, "commit-msg", message_file)
        parents = ["-p", head] if head else []
        commit_argv = ("commit-tree", tree, *parents, "-F", str(message_file))
        commit = repository.check(*commit_argv).decode().strip()
        subject = message_file.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        repository.check("update-ref", "-m", f"commit: {subject}", "HEAD", commit, head or "")
        repository.check("update-index", "-z", "--index-info", input=entries)
        if run_hook is not None:
            await _hook(repository, run_hook, folder, "post-commit", required=False)
        return commit
    except git.GitError as error:
        raise CommitError(str(error)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _entries(repository: git.Repository, paths: list[str]) -> bytes:
    """``update-index --index-info`` lines: each file as it is on disk, or removed."""
    lines: list[bytes] = []
    for path in paths:
        read = read_file(repository.root, path)
        name = os.fsencode(path)
        if read.unsupported:
            continue
        if read.data is None:
            lines.append(b"0 " + b"0" * 40 + b"\t" + name)
            continue
        blob = repository.store_blob(read.data)
        mode = b"100755" if read.mode & 0o100 else b"100644"
        lines.append(mode + b" " + blob.encode() + b"\t" + name)
    return b"\0".join(lines) + (b"\0" if lines else b"")


def hooks_folder(repository: git.Repository) -> Path | None:
    """Where the user's git looks for hooks (core.hooksPath or .git/hooks)."""
    done = repository.run("rev-parse", "--git-path", "hooks", hooks=True)
    if done.returncode != 0:
        return None
    found = Path(os.fsdecode(done.stdout.strip()))
    return found if found.is_absolute() else repository.root / found


async def _hook(
    repository: git.Repository,
    run_hook: HookRunner,
    folder: Path,
    name: str,
    *args: Path | str,
    required: bool = True,
) -> None:
    hooks = hooks_folder(repository)
    if hooks is None:
        return
    hook = hooks / name
    if not (hook.is_file() and os.access(hook, os.X_OK)):
        return
    words = [shlex.quote(str(hook)), *(shlex.quote(str(arg)) for arg in args)]
    index = shlex.quote(str(folder / "index"))
    code, output = await run_hook(f"GIT_INDEX_FILE={index} {' '.join(words)}", folder)
    if code != 0 and required:
        raise CommitError(
            f"The {name} hook failed (exit {code}), so nothing was committed:\n{output.strip()}"
        )
