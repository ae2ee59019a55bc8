"""Shipmate's own files are the user's alone: folders 0700, files 0600, whatever the umask.

Sessions, command logs, the index and rules hold code, commands, their output and what may
run. They are created private (the mode is given when the file or folder is made, so there
is no moment when others could open it), and one an older version left readable is
tightened when Shipmate opens it again. Only what the user owns is ever changed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

FOLDER = 0o700
FILE = 0o600

_REASONS = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a file stands where a folder should be",
    errno.EISDIR: "a folder is in the way",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EFBIG: "the file is too large",
    errno.EMLINK: "the folder holds too many entries",
    errno.ELOOP: "a symbolic link is in the way",
}


def os_reason(error: OSError) -> str:
    """Why a file operation failed, in plain words and without the file name (the caller
    names the file the user knows, never a temp file)."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    return (error.strerror or str(error) or type(error).__name__).lower()


def tighten(target: Path | int, mode: int = FILE) -> None:
    """Set ``target`` (a path or an open file) to ``mode`` if the user owns it; a file
    system that refuses (read-only) leaves it as it was."""
    with contextlib.suppress(OSError):
        info = os.stat(target)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != mode:
            if isinstance(target, int):
                os.fchmod(target, mode)
            else:
                os.chmod(target, mode)


def private_dir(path: Path) -> Path:
    """``path`` as a folder only the user can enter: missing folders on the way are created
    0700, and ``path`` itself is tightened if it was there already."""
    missing = []
    folder = path
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for part in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, FOLDER)  # a file in the way: the next part fails with ENOTDIR
        if part.is_dir():
            tighten(part, FOLDER)  # a umask may have taken bits the user needs
    if not missing:
        tighten(path, FOLDER)
    return path


def private_file(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open ``path`` with ``flags``, creating it 0600 if missing; returns the descriptor.

    A symbolic link in its place is refused: Shipmate's files are never links, and one
    planted (say in a shared temp folder) must not redirect the write.
    """
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, FILE)
    tighten(fd)
    return fd


def private_database(path: Path) -> None:
    """Make the SQLite file ``path`` 0600 before SQLite opens it: SQLite gives the ``-wal``,
    ``-shm`` and ``-journal`` files it creates the database's mode. Those an older version
    left are tightened too."""
    with contextlib.suppress(FileExistsError):
        os.close(private_file(path, os.O_WRONLY | os.O_EXCL))
    for suffix in ("", "-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))


def replace_file(path: Path, text: str, mode: int = FILE) -> None:
    """Write ``path`` whole: a reader sees the old file or the new one, never half of it,
    and a failure (OSError) leaves no temp file behind. Its folder is made private if it
    is missing; ``mode`` is the new file's (the user's alone unless told otherwise)."""
    private_dir(path.parent)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if mode != FILE:  # mkstemp made it 0600 already, whatever the umask
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
