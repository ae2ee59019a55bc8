"""Reading and writing text files without damaging them.

A file is read once into a ``TextFile`` that remembers how it was stored (encoding, byte
order mark, line endings, mode) so an edit writes it back the same way, atomically: a temp
file next to it, then a rename, so a crash or Ctrl-C never leaves half a file.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.base import ToolError

BINARY_SNIFF_BYTES = 8192
_BOMS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass
class TextFile:
    """Text with ``\\n`` line endings when the file used CRLF throughout; raw otherwise."""

    text: str
    encoding: str = "utf-8"
    bom: bytes = b""
    newline: str = "\n"

    def encode(self, text: str) -> bytes:
        if self.newline == "\r\n":
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        try:
            return self.bom + text.encode(self.encoding)
        except UnicodeEncodeError as error:
            bad = text[error.start : error.end]
            raise ToolError(
                f"The file is stored as {self.encoding} and {bad!r} cannot be written in it; "
                "use characters that encoding supports."
            ) from None


def is_binary(data: bytes) -> bool:
    head = data[:BINARY_SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in head


def decode(data: bytes) -> TextFile:
    """Decode bytes the way an editor would: BOM, then UTF-8, then Windows-1252, then Latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _with_newlines(TextFile(data[len(bom) :].decode(encoding), encoding, bom))
            except UnicodeDecodeError:
                break
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return _with_newlines(TextFile(data.decode(encoding), encoding))
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")


def _with_newlines(file: TextFile) -> TextFile:
    lf = file.text.count("\n")
    if lf and file.text.count("\r\n") == lf:
        file.text = file.text.replace("\r\n", "\n")
        file.newline = "\r\n"
    return file


def read_text(path: Path, shown_as: str) -> tuple[TextFile, bytes]:
    """The decoded file and its raw bytes; binaries are refused with a ToolError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ToolError(f"{shown_as} does not exist.") from None
    except IsADirectoryError:
        raise ToolError(
            f"{shown_as} is a directory; use list_files to see what it holds."
        ) from None
    except PermissionError:
        raise ToolError(f"{shown_as} cannot be read: permission denied.") from None
    if is_binary(data):
        raise ToolError(f"{shown_as} is a binary file ({len(data):,} bytes); it cannot be shown.")
    return decode(data), data


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename, keeping the file's permission bits."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".shipmate-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
