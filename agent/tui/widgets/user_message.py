"""A message the user sent, or one queued to be sent when the agent is done."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.tui.render import clean


class UserMessage(Static):
    def __init__(self, text: str, queued: bool = False) -> None:
        super().__init__(classes="queued" if queued else "")
        self.text = text
        self.queued = queued

    def render(self) -> Text:
        shown = Text("› ", style="bold") + Text(clean(self.text))
        if self.queued:
            shown.append("  (queued: sent when the agent is done)", style="italic dim")
        return shown

    def send(self) -> None:
        """The queued message goes out now."""
        self.queued = False
        self.remove_class("queued")
        self.refresh()
