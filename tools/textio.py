"""Text files as editors see them, so an edit does not damage them.

A file is decoded into a ``TextFile`` that remembers how it was stored (encoding, byte
order mark, line endings) so an edit is encoded back the same way.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from tools.errors import ToolError

BINARY_SNIFF_BYTES = 8192
_BOMS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]


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


def as_text(data: bytes, shown_as: str) -> TextFile:
    """The decoded file; binaries are refused with a ToolError."""
    if is_binary(data):
        raise ToolError(f"{shown_as} is a binary file ({len(data):,} bytes); it cannot be shown.")
    return decode(data)
