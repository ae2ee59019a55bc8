"""A diff shown whole in the conversation (/diff)."""

from __future__ import annotations

from textual.widgets import Static

from agent.tui.render import diff_text


class DiffView(Static):
    def __init__(self, diff: str) -> None:
        super().__init__(diff_text(diff))
        self.diff = diff
