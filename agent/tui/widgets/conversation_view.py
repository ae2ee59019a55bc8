"""The scrolling conversation: it follows new output until the person scrolls away, and
drops its oldest blocks past ``KEEP`` so a long session stays quick to lay out."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget

KEEP = 600  # blocks kept on screen; layout time grows with every widget


class ConversationView(VerticalScroll, can_focus=False):
    """Not focusable itself: keys go to the input, or to the tool call that asks."""

    def on_mount(self) -> None:
        self.anchor()

    async def add(self, widget: Widget) -> Widget:
        await self.mount(widget)
        extra = len(self.children) - KEEP
        if extra > 0:
            await self.remove_children(list(self.children[:extra]))
        return widget
