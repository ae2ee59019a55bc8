"""Untrusted text made fit for the screen, and the small renderings widgets share.

What the model, a file or a command produced never reaches Textual as markup (these return
``rich.text.Text``, which parses none) and never carries an escape sequence or a control
character to the terminal: Textual passes them through untouched.
"""

from __future__ import annotations

from rich.text import Text

from agent.terminal import BIDI, for_model

_NO_BIDI = dict.fromkeys(BIDI)

ICONS = {"read": "◇", "edit": "✎", "execute": "»", "git": "⎇", "plan": "☰", None: "?"}


def clean(text: str) -> str:
    """``text`` without escape sequences, control characters (but newline and tab) or bidi
    controls: what is left can only print."""
    return for_model(text).translate(_NO_BIDI)


def plain(text: str, style: str = "") -> Text:
    """Untrusted text as a renderable: literal, cleaned."""
    return Text(clean(text), style=style)


def diff_text(diff: str) -> Text:
    """A unified diff, coloured by line: additions green, removals red, hunks cyan."""
    out = Text()
    for line in clean(diff).splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        out.append(line + "\n", style=style)
    out.rstrip()
    return out


def seconds(elapsed: float) -> str:
    """A duration as a person reads it at a glance."""
    if elapsed < 1:
        return f"{elapsed * 1000:.0f} ms"
    if elapsed < 60:
        return f"{elapsed:.1f} s"
    return f"{int(elapsed // 60)} min {int(elapsed % 60)} s"


def tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)
