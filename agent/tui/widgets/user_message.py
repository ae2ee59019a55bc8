"""A message the user sent, or one queued to be sent when the agent is done (a click takes
it back into the input, to edit or drop); under it, the files it brought into the context
with ``@`` ("+ path")."""

from __future__ import annotations

from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.widgets import Static

from agent.tui.render import clean

QUEUED = (
    "  (queued: sent when the agent is done · click it, or Up in the empty input, to take it back)"
)


class UserMessage(Static):
    class TakeBack(Message):
        """A queued message was clicked: it leaves the queue for the input."""

        def __init__(self, line: UserMessage) -> None:
            super().__init__()
            self.line = line

    def __init__(self, text: str, queued: bool = False, files: list[str] | None = None) -> None:
        super().__init__(classes="queued" if queued else "")
        self.text = text
        self.queued = queued
        self.files = list(files or [])

    def render(self) -> Text:
        shown = Text("› ", style="bold") + Text(clean(self.text))
        if self.queued:
            shown.append(QUEUED, style="italic dim")
        for path in self.files:
            shown.append("\n  + " + clean(path), style="dim")
        return shown

    def send(self) -> None:
        """The queued message goes out now."""
        self.queued = False
        self.remove_class("queued")
        self.refresh()

    def attach(self, files: list[str]) -> None:
        """The files its ``@`` mentions brought into the context."""
        self.files = list(files)
        self.refresh(layout=True)

    def on_click(self, event: Click) -> None:
        if self.queued:
            event.stop()
            self.post_message(self.TakeBack(self))
