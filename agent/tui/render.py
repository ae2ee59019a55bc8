"""Untrusted text made fit for the screen, and the small renderings widgets share.

What the model, a file or a command produced never reaches Textual as markup (these return
``rich.text.Text``, which parses none) and never carries an escape sequence or a control
character to the terminal: Textual passes them through untouched.
"""

from __future__ import annotations

import re

from rich.text import Text

from agent.terminal import BIDI, for_model

_NO_BIDI = dict.fromkeys(BIDI)

HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
ICONS = {"read": "◇", "edit": "✎", "execute": "»", "git": "⎇", "plan": "☰", None: "?"}


def clean(text: str) -> str:
    """``text`` without escape sequences, control characters (but newline and tab) or bidi
    controls: what is left can only print."""
    return for_model(text).translate(_NO_BIDI)


def plain(text: str, style: str = "") -> Text:
    """Untrusted text as a renderable: literal, cleaned."""
    return Text(clean(text), style=style)


def diff_text(diff: str) -> Text:
    """A unified diff as a person reads it: a gutter of old and new line numbers (when it
    has hunks), additions green, removals red, hunk headers dim cyan."""
    lines = clean(diff).splitlines()
    numbered = any(HUNK.match(line) for line in lines)
    width = len(str(max([hunk_end(line) for line in lines] or [0])))
    old = new = 0
    out = Text()
    for line in lines:
        gutter = ""
        if hunk := HUNK.match(line):
            old, new = int(hunk.group(1)), int(hunk.group(3))
            style = "dim cyan"
        elif line.startswith(("+++", "---", "diff ", "index ", "new file", "deleted file")):
            style = "bold"
        elif line.startswith("+"):
            style, gutter, new = "green", f"{'':>{width}} {new:>{width}}", new + 1
        elif line.startswith("-"):
            style, gutter, old = "red", f"{old:>{width}} {'':>{width}}", old + 1
        else:
            style, gutter = "", f"{old:>{width}} {new:>{width}}"
            old, new = old + 1, new + 1
        if numbered:
            out.append(f"{gutter:<{2 * width + 1}} ", style="dim")
        out.append(line + "\n", style=style)
    out.rstrip()
    return out


def hunk_end(line: str) -> int:
    """The last line number a hunk header's ranges reach (0 for any other line)."""
    if not (hunk := HUNK.match(line)):
        return 0
    old, old_count, new, new_count = (int(n) if n else 1 for n in hunk.groups())
    return max(old + old_count, new + new_count)


def seconds(elapsed: float) -> str:
    """A duration as a person reads it at a glance."""
    if elapsed < 1:
        return f"{elapsed * 1000:.0f} ms"
    if elapsed < 60:
        return f"{elapsed:.1f} s"
    return f"{int(elapsed // 60)} min {int(elapsed % 60)} s"


def tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)
