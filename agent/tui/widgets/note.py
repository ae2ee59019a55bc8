"""A one-line marker in the conversation: a notice, a commit, a compaction, an error."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.tui.render import clean

KINDS = ("info", "notice", "error", "marker", "done")


class Note(Static):
    """``text`` is untrusted (it may quote the model or a file): shown literally."""

    def __init__(self, text: str, kind: str = "info", detail: str = "") -> None:
        super().__init__(classes=kind)
        self.text = text
        self.kind = kind
        self.detail = detail

    def render(self) -> Text:
        shown = Text(clean(self.text))
        if self.kind == "error":
            shown = Text("✗ ", style="bold") + shown
        if self.detail:
            shown.append("\n" + clean(self.detail), style="dim")
        return shown
