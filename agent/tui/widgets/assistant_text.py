"""The assistant's answer, streamed as Markdown.

Deltas are buffered and written at a steady rate (``FLUSH_EVERY``): each write lays out the
document again, so one write per token falls behind a fast model. Links are shown, never
opened: a click copies the address (the model's text may point anywhere) and says so.
"""

from __future__ import annotations

from textual.timer import Timer
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownStream

from agent.tui.render import clean

FLUSH_EVERY = 0.08  # seconds between writes while streaming
SEQUENCE_TAIL = 64  # characters an unfinished escape sequence may hold back


class AssistantText(Markdown):
    def __init__(self, text: str = "") -> None:
        super().__init__(clean(text), open_links=False)
        self._buffer: list[str] = []
        self._stream: MarkdownStream | None = None
        self._timer: Timer | None = None
        self.streamed = ""
        self.finished = bool(text)  # an empty one is made to stream into

    def add(self, delta: str) -> None:
        """Queue a streamed piece; the timer writes it."""
        if self._stream is None:
            self._stream = Markdown.get_stream(self)
            self._timer = self.set_interval(FLUSH_EVERY, self.flush)
        self._buffer.append(delta)

    async def flush(self, final: bool = False) -> None:
        """Write what came since the last write; an escape sequence cut at its end waits
        for the rest, so it is removed whole, not left half-printed."""
        raw = "".join(self._buffer)
        self._buffer.clear()
        cut = len(raw) if final else _complete_up_to(raw)
        if cut < len(raw):
            self._buffer.append(raw[cut:])
        text = clean(raw[:cut])
        if text and self._stream is not None:
            self.streamed += text
            await self._stream.write(text)

    async def finish(self, text: str | None = None) -> None:
        """The reply is complete: write what is left and stop streaming; ``text`` is the
        whole reply, shown as such when nothing was streamed."""
        if self._timer is not None:
            self._timer.stop()
        await self.flush(final=True)
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        elif text:
            await self.update(clean(text))
        self.finished = True

    def on_markdown_link_clicked(self, message: Markdown.LinkClicked) -> None:
        message.stop()
        address = clean(message.href)
        self.app.copy_to_clipboard(address)
        self.app.notify(f"Link copied (not opened): {address}", markup=False)


def _complete_up_to(text: str) -> int:
    """Where ``text`` is safe to clean: before an escape sequence begun in its last
    ``SEQUENCE_TAIL`` characters on the last line, which may not be over yet."""
    start = max(text.rfind("\x1b"), *(text.rfind(chr(code)) for code in range(0x80, 0xA0)))
    if start < 0 or len(text) - start > SEQUENCE_TAIL or "\n" in text[start:]:
        return len(text)
    return start
