"""The line at the top of a long conversation whose oldest blocks left the screen: it says
how many, and a click (or scrolling to the top) brings the previous batch back."""

from __future__ import annotations

from textual.events import Click
from textual.message import Message
from textual.widgets import Static


class Earlier(Static):
    class Show(Message):
        """The person wants the previous batch of blocks back."""

    def __init__(self) -> None:
        super().__init__(markup=False)
        self.count = 0

    def set_count(self, count: int) -> None:
        self.count = count
        blocks = "block" if count == 1 else "blocks"
        self.update(f"↑ {count:,} earlier {blocks} · scroll up or click to show them")

    def on_click(self, event: Click) -> None:
        event.stop()
        self.post_message(self.Show())
