"""Confinement of every file the tools read or write to the workspace.

Paths are resolved with symlinks followed before the check, so ``../``, absolute paths and
links that lead out all end up outside and are refused the same way. The check is then
repeated on what was actually opened (through ``/proc/self/fd``), so a symlink swapped in
between the check and the use is caught too. Files with other hard links are not read:
another link may be outside. Writes go to a temp file in the same folder, then a rename,
so a crash or Ctrl-C never leaves half a file, and a write never goes through a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from agent.storage import os_reason
from tools.errors import ToolError
from tools.executables import own_installation, shipmate_inside
from tools.names import on_disk, real_name
from tools.textio import TextFile, as_text

if TYPE_CHECKING:
    from tools.base import ToolContext

_CONTROL = re.compile("[\x01-\x1f\x7f-\x9f\u2028\u2029]")
_UMASK = os.umask(0)
os.umask(_UMASK)
MAX_READ_BYTES = 10 * 1024 * 1024
NAME_MAX = 255  # bytes in one file or folder name, on Linux file systems


def canonical(workspace: Path, raw: str) -> Path:
    """The one reading of a path the model sent, for the permission check and the tool alike:
    its real location inside ``workspace`` (links followed), or a ToolError saying why not.

    Nothing is trimmed or guessed: ``.env `` names a file ``.env `` (which the secret check
    also treats as ``.env``), control characters are refused, and a name shown to the model
    with ``\\xNN`` escapes (not UTF-8 on disk) is mapped back to the real name.
    """
    if not raw.strip():
        raise ToolError("The path is empty; give a path relative to the workspace root.")
    if "\x00" in raw:
        raise ToolError("The path contains a NUL byte.")
    if _CONTROL.search(raw):
        raise ToolError(
            f"The path {raw!r} contains control characters; give the path exactly as "
            "list_files shows it."
        )
    if raw.startswith("~"):
        raise ToolError(
            f"'{raw}' points into a home directory; only files inside the workspace "
            f"({workspace}) can be used. Give a path relative to the workspace root."
        )
    candidate = Path(raw)
    candidate = candidate if candidate.is_absolute() else on_disk(workspace, raw)
    try:
        real = candidate.resolve()
    except (RuntimeError, OSError) as error:  # a symlink loop: RuntimeError before 3.13
        raise ToolError(f"'{raw}' cannot be resolved: {error}.") from None
    if not real.is_relative_to(workspace):
        raise ToolError(
            f"'{raw}' is outside the workspace ({workspace}); only files inside it can be "
            "used. Give a path relative to the workspace root."
        )
    if any(len(os.fsencode(part)) > NAME_MAX for part in real.relative_to(workspace).parts):
        raise ToolError(
            f"'{raw}' has a name longer than {NAME_MAX} bytes, which the file system cannot "
            "hold; use a shorter name."
        )
    return real


def resolve(ctx: ToolContext, raw: str, *, for_write: bool = False) -> Path:
    """The real path of ``raw`` inside the workspace, or a ToolError saying why not."""
    real = canonical(ctx.workspace, raw)
    if for_write and _inside_git_dir(ctx, real):
        raise ToolError(f"'{raw}' is inside .git; git internals are not edited directly.")
    own = own_installation()
    if for_write and shipmate_inside(ctx.workspace) and real.is_relative_to(own):
        raise ToolError(
            f"'{raw}' is inside Shipmate's own installation, which is not edited from a session."
        )
    return real


def _inside_git_dir(ctx: ToolContext, path: Path) -> bool:
    """Any ``.git`` part, in any case (case-insensitive file systems exist)."""
    return any(part.casefold() == ".git" for part in path.relative_to(ctx.workspace).parts)


def _opened_path(fd: int) -> Path | None:
    """Where an open file really is, or None where /proc cannot tell."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def _check_opened(ctx: ToolContext, fd: int, shown: str) -> None:
    real = _opened_path(fd)
    if real is not None and not real.is_relative_to(ctx.workspace):
        raise ToolError(f"'{shown}' led outside the workspace while being opened; refused.")


def read_bytes(ctx: ToolContext, path: Path, shown: str) -> bytes:
    """The content of a regular file inside the workspace (``path`` from ``resolve``)."""
    fd = _open_checked(ctx, path, shown)
    try:
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def _open_checked(ctx: ToolContext, path: Path, shown: str) -> int:
    """A descriptor of the file ``path``, once it is known to be a regular file inside the
    workspace, with no other hard link, small enough to read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ToolError(f"{shown} does not exist.") from None
    except PermissionError:
        raise ToolError(f"{shown} cannot be read: permission denied.") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ToolError(f"'{shown}' became a symbolic link after it was checked.") from None
        raise ToolError(f"{shown} cannot be read: {error.strerror}.") from None
    try:
        _check_opened(ctx, fd, shown)
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"{shown} is a directory; use list_files to see what it holds.")
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"{shown} is not a regular file.")
        if info.st_nlink > 1:
            raise ToolError(
                f"{shown} has {info.st_nlink} hard links, and another may be outside the "
                "workspace, so it is not read."
            )
        if info.st_size > MAX_READ_BYTES:
            raise ToolError(
                f"{shown} is {info.st_size / 1024 / 1024:.1f} MB, too large to read here; use "
                "grep to find the lines you need."
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_text(ctx: ToolContext, path: Path, shown: str) -> tuple[TextFile, bytes]:
    """The decoded file and its raw bytes (binaries are refused)."""
    data = read_bytes(ctx, path, shown)
    return as_text(data, shown), data


async def load_text(ctx: ToolContext, path: Path, shown: str) -> tuple[TextFile, bytes]:
    """``read_text``, or the editor's buffer when an editor serves the files (``ctx.files``):
    the file on disk passes the same checks first, so the editor is never asked for a file
    the tools would refuse."""
    if ctx.files is None:
        return read_text(ctx, path, shown)
    os.close(_open_checked(ctx, path, shown))
    data = (await ctx.files.read(path)).encode("utf-8", errors="surrogateescape")
    return as_text(data, shown), data


async def save_text(ctx: ToolContext, path: Path, data: bytes) -> None:
    """``write_atomic``, or into the editor's buffer when an editor serves the files. The
    editor writes by name, so the path is checked again just before: a link swapped in since
    ``resolve`` is refused rather than followed. What the editor was given is UTF-8 (it gave
    the text, or the model wrote a new file)."""
    if ctx.files is None:
        write_atomic(ctx, path, data)
        return
    if path.is_symlink() or canonical(ctx.workspace, str(path)) != path:
        raise ToolError(f"'{ctx.relative(path)}' became a symbolic link after it was checked.")
    await ctx.files.write(path, data.decode("utf-8", errors="surrogateescape"))


def _open_folder(ctx: ToolContext, folder: Path, shown: str) -> int:
    """Open ``folder`` one part at a time from the workspace root, creating missing parts, and
    never through a link: a folder swapped for a symlink after ``resolve`` cannot lead a write
    (or a new folder) out of the workspace."""
    fd = os.open(ctx.workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in folder.relative_to(ctx.workspace).parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, dir_fd=fd)
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise ToolError(
                    f"'{shown}' cannot be written: '{part}' on its way is not a folder (or "
                    "became a symbolic link after the path was checked)."
                ) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_inside(root: Path, relative: str) -> int:
    """A read-only descriptor of the regular file ``relative`` under ``root``, reached without
    following any link: every folder on the way is opened from ``root`` with O_NOFOLLOW, so
    a folder a command swapped for a link to the home cannot lead a read out. Raises OSError
    (ELOOP, ENOTDIR, ENOENT …) otherwise. A name shown with ``\\xNN`` escapes is mapped
    back, unless a file is really so named."""
    try:
        return _open_parts(root, PurePosixPath(relative).parts)
    except FileNotFoundError:
        if "\\x" not in relative:
            raise
        return _open_parts(root, PurePosixPath(real_name(relative)).parts)


def _open_parts(root: Path, parts: tuple[str, ...]) -> int:
    if not parts or any(part in ("..", "/") for part in parts):
        raise OSError(errno.EINVAL, "not a path inside the root", "/".join(parts))
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            child = os.open(part, flags, dir_fd=folder)
            os.close(folder)
            folder = child
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(parts[-1], flags, dir_fd=folder)
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", "/".join(parts))
    return fd


def write_atomic(ctx: ToolContext, path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` (from ``resolve``) with ``data`` in one rename, keeping its mode
    (or giving it ``mode``).

    When the disk refuses (read-only, full, no permission, a folder in the way, a name too
    long) the model is told which file and why, never the temp file's name, and no temp file
    stays behind.
    """
    shown = ctx.relative(path)
    existed = os.path.lexists(path)
    try:
        _write_atomic(ctx, path, data, shown, mode)
    except OSError as error:
        after = "the file on disk is as it was" if existed else "no file was created"
        raise ToolError(f"{shown} could not be written: {os_reason(error)}; {after}.") from None


def _write_atomic(ctx: ToolContext, path: Path, data: bytes, shown: str, mode: int | None) -> None:
    folder = _open_folder(ctx, path.parent, shown)
    try:
        _check_opened(ctx, folder, shown)
        try:
            kept = os.stat(path.name, dir_fd=folder, follow_symlinks=False).st_mode & 0o7777
        except FileNotFoundError:
            kept = 0o666 & ~_UMASK
        mode = kept if mode is None else mode
        # Short whatever the file's name, so a long name cannot make the temp name too long.
        temp = f".{path.name[:40]}.{os.urandom(4).hex()}.shipmate-tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(temp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def remove_file(ctx: ToolContext, path: Path) -> None:
    """Delete the file ``path`` (from ``resolve``), reached without following links; a
    missing one is not an error. ToolError when the disk refuses."""
    shown = ctx.relative(path)
    if not os.path.lexists(path):
        return
    try:
        folder = _open_folder(ctx, path.parent, shown)
    except OSError as error:
        raise ToolError(f"{shown} could not be removed: {os_reason(error)}.") from None
    try:
        _check_opened(ctx, folder, shown)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.name, dir_fd=folder)
    except OSError as error:
        raise ToolError(f"{shown} could not be removed: {os_reason(error)}.") from None
    finally:
        os.close(folder)
