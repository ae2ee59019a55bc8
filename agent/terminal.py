"""Untrusted text never drives the user's terminal.

What a model, a file or a command produced may hold escape sequences that set the clipboard
(OSC 52), the window title, plant links or clear the screen, and bidi controls that reorder
what the reader sees. Three forms of such text leave Shipmate:

- ``visible(text)`` for a terminal: every control character is shown as a literal escape
  (``\\x1b``, ``\\u202e``), so nothing is interpreted and nothing is hidden. ``SafeStream``
  applies it to every write, and the CLI wraps ``sys.stdout`` and ``sys.stderr`` in it.
- ``for_model(text)`` for the model: escape sequences removed whole, other controls dropped,
  so it reads what a person would have seen.
- ``json_safe(json_text)`` for JSON lines: C1 and bidi controls escaped as ``\\uXXXX``
  (JSON already escapes C0), the same value with nothing a terminal would act on.

No Textual import here: the TUI uses these too.
"""

from __future__ import annotations

import io
import re
import sys
from typing import TextIO

from tools.names import safe_text

# Bidi embeddings, overrides, isolates and marks (Arabic, left-to-right, right-to-left), and
# the line and paragraph separators some terminals treat as line breaks.
BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)
C0_SHOWN = [code for code in range(0x20) if code not in (0x09, 0x0A)] + [0x7F]
C1 = range(0x80, 0xA0)

# C0 as \xNN; C1 as \u00NN, since \xNN above 0x7f already means a file name's stray byte.
_VISIBLE = {code: f"\\x{code:02x}" for code in C0_SHOWN} | {
    code: f"\\u{code:04x}" for code in (*C1, *BIDI)
}
_JSON = {code: f"\\u{code:04x}" for code in (0x7F, *C1, *BIDI)}

# One escape sequence, 7-bit (ESC …) or 8-bit (a C1 introducer):
# - control strings (OSC ESC ], DCS ESC P, SOS ESC X, PM ESC ^, APC ESC _), ended by BEL or
#   ST (ESC \ or 0x9c); another ESC or C1 inside ends the match, so an unterminated string
#   loses only its introducer (below) and scanning stays linear;
# - CSI (ESC [ or 0x9b), parameter bytes, intermediate bytes, one final byte;
# - any other escape: ESC, intermediate bytes (as in ESC ( B), one final byte (ESC c, ESC 7).
_SEQUENCE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x80-\x9f]*+(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*+[\x20-\x2f]*+[\x40-\x7e]"
    r"|\x1b[\x20-\x2f]*+[\x30-\x7e]"
)
_LINE_END = re.compile(r"\r*\n|\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` as a terminal may show it: control characters (all but newline and tab,
    ``\\r`` and ESC included), C1 and bidi controls as literal escapes; a file name's stray
    bytes as ``\\xNN``. ``\\r\\n`` is a plain newline: it cannot overwrite anything."""
    return safe_text(text.replace("\r\n", "\n")).translate(_VISIBLE)


def for_model(text: str) -> str:
    """``text`` with every escape sequence removed whole and other controls dropped.

    A lone ``\\r`` becomes a newline: dropping it would glue the overwritten and the
    overwriting text into words neither printed, and keeping only what a terminal shows
    would hide text from the model. Progress bars cost lines, and output is capped anyway.
    """
    text = _SEQUENCE.sub("", text)
    return _CONTROL.sub("", _LINE_END.sub("\n", text))


def json_safe(json_text: str) -> str:
    """JSON text with DEL, C1 and bidi controls escaped as ``\\uXXXX``.

    In valid JSON they can only stand inside strings, where the escape means the same
    character, so the value is unchanged and ``visible`` leaves the line alone.
    """
    return json_text.translate(_JSON)


class SafeStream(io.TextIOBase):
    """A text stream whose every write goes through ``visible``.

    Shipmate's own escapes (a progress line redrawn with ``\\r``) go through
    ``write_trusted`` instead. There is no ``buffer``: bytes cannot go around the filter.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(visible(text))
        return len(text)

    def write_trusted(self, text: str) -> int:
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def fileno(self) -> int:
        return self.inner.fileno()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors


def guard_stdio() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in ``SafeStream`` for the rest of the process
    (messages printed at exit included); calling it again changes nothing."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, SafeStream):
            setattr(sys, name, SafeStream(stream))


def write_trusted(stream: TextIO, text: str) -> None:
    """Write Shipmate's own control characters (never untrusted text) past the filter."""
    if isinstance(stream, SafeStream):
        stream.write_trusted(text)
    else:
        stream.write(text)
    stream.flush()
