"""File names that are not valid UTF-8, as text that can leave Shipmate.

Python keeps such a name's stray bytes as lone surrogates (``surrogateescape``), which opens
the right file but cannot be written as UTF-8: not into JSON, SQLite, or a reply to the
model. So a stray byte is shown as ``\\xNN`` wherever text leaves Shipmate, and a path given
back in that form (by the model, or a user) is mapped to the real name again.
"""

from __future__ import annotations

import re
from pathlib import Path

_STRAY_BYTE = re.compile("[\udc80-\udcff]")
_OTHER_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_SHOWN_BYTE = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def safe_text(text: str) -> str:
    """``text`` with a file name's stray bytes as ``\\xNN`` and any other lone surrogate as
    U+FFFD, so it encodes as UTF-8."""
    if text.isascii():
        return text
    text = _STRAY_BYTE.sub(lambda match: f"\\x{ord(match.group()) - 0xDC00:02x}", text)
    return _OTHER_SURROGATE.sub("\ufffd", text)


def real_name(shown: str) -> str:
    """The name ``safe_text`` showed as ``shown`` (``\\xNN`` back to the stray byte)."""
    return _SHOWN_BYTE.sub(lambda match: chr(0xDC00 + int(match.group(1), 16)), shown)


def on_disk(root: Path, shown: str) -> Path:
    """``root / shown``, or the file whose name was shown with ``\\xNN`` escapes."""
    literal = root / shown
    if "\\x" not in shown or literal.exists() or literal.is_symlink():
        return literal
    return root / real_name(shown)
