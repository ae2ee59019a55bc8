"""The scrolling conversation: it follows new output until the person scrolls away, and
stays quick to lay out however long the session gets.

Every widget is laid out again on every update of the screen, so while the person follows
the end, past ``KEEP`` blocks the oldest leave the DOM, each kept as a small record
(``records.py``), and a line at the top says how many are gone.

Scrolling to the top (or clicking that line) makes the previous ``BATCH`` again, the view
keeping the person's place. While they read back nothing is pruned or converted under them;
the next block added after they return to the end prunes again.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget

from agent.tui.widgets.earlier import Earlier
from agent.tui.widgets.records import Record, live, record

KEEP = 120  # blocks kept in the DOM
BATCH = 40  # blocks made again at a time when the person scrolls back


class ConversationView(VerticalScroll, can_focus=False):
    """Not focusable itself: keys go to the input, or to the tool call that asks."""

    def __init__(self) -> None:
        super().__init__()
        self.pruned: list[Record] = []  # oldest first
        self.earlier = Earlier()
        self.restoring = False

    def on_mount(self) -> None:
        self.anchor()

    @property
    def blocks(self) -> list[Widget]:
        return [child for child in self.children if child is not self.earlier]

    @property
    def following(self) -> bool:
        """The view sticks to the end: the person has not scrolled away from it."""
        return self.is_anchored and not self._anchor_released

    async def add(self, widget: Widget) -> Widget:
        with self.app.batch_update():  # one layout for it all, not one per change
            await self.mount(widget)
            if self.following:
                await self._prune()
        return widget

    async def clear(self) -> None:
        """A new conversation: every block goes, the pruned ones too."""
        self.pruned.clear()
        await self.remove_children()

    async def _prune(self) -> None:
        blocks = self.blocks
        gone: list[Widget] = []
        for block in blocks[: max(len(blocks) - KEEP, 0)]:
            if live(block):
                break
            gone.append(block)
        if not gone:
            return
        self.pruned += [made for block in gone if (made := record(block)) is not None]
        await self.remove_children(gone)
        await self._show_count()

    async def _show_count(self) -> None:
        if self.pruned and not self.earlier.is_attached:
            await self.mount(self.earlier, before=0)
        elif not self.pruned and self.earlier.is_attached:
            await self.earlier.remove()
        self.earlier.set_count(len(self.pruned))

    async def show_earlier(self) -> None:
        """The previous batch of pruned blocks, made again above the first one shown; the
        block the person was looking at stays where it was on screen."""
        if not self.pruned or self.restoring:
            return
        self.restoring = True
        blocks = self.blocks
        top = next((b for b in blocks if b.virtual_region.bottom > self.scroll_y), None)
        offset = top.virtual_region.y - self.scroll_y if top is not None else 0
        batch, self.pruned = self.pruned[-BATCH:], self.pruned[:-BATCH]
        made = [make() for make in batch]
        if blocks:
            await self.mount_all(made, before=blocks[0])
        else:
            await self.mount_all(made)
        await self._show_count()

        def keep_place() -> None:
            if top is not None:
                self.scroll_to(y=top.virtual_region.y - offset, animate=False, immediate=True)
            self.restoring = False

        self.call_after_refresh(keep_place)

    def on_earlier_show(self, message: Earlier.Show) -> None:
        message.stop()
        self.run_worker(self.show_earlier(), group="earlier")

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 < old and self.pruned and not self.following:
            self.run_worker(self.show_earlier(), group="earlier")
