"""The assistant's answer, streamed as Markdown drawn by rich in one widget.

Textual's own ``Markdown`` widget is a container of a widget per paragraph, list item and
code block, and every one is laid out again on every frame: streaming a long reply into it
kept the screen busy for most of each second and the input echoed keys late. Here a reply
is one widget whose Markdown is drawn again when text arrives, at a steady rate
(``FLUSH_EVERY``), once per width (a ``Static`` draws it twice: to measure, then to paint),
and a long reply streams as segments of about ``SEGMENT`` characters, cut at paragraph
breaks, so each redraw stays small. Links show their address and never open.
"""

from __future__ import annotations

import re

from rich.markdown import Markdown
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from agent.tui.render import clean

FLUSH_EVERY = 0.08  # seconds between redraws while streaming
SEGMENT = 1200  # characters a streamed segment grows to before a paragraph break cuts it
SEQUENCE_TAIL = 64  # characters an unfinished escape sequence may hold back
FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


class AssistantText(Widget):
    DEFAULT_CSS = "AssistantText { height: auto; }"

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._lines: list[Strip] = []
        self._width = 0  # the width the lines were drawn for
        self.source = ""  # the Markdown shown, cleaned
        self.received = ""  # what came to be streamed, shown or not
        self.finished = bool(text)  # an empty one is made to stream into
        self._buffer: list[str] = []
        self._timer: Timer | None = None
        if text:
            self._show(clean(text))

    def _show(self, source: str) -> None:
        self.source = source
        self._width = 0
        self.refresh(layout=True)

    def _draw(self, width: int) -> list[Strip]:
        if width != self._width:
            console = self.app.console
            options = console.options.update(width=max(width, 1), height=None)
            rendered = console.render_lines(
                Markdown(self.source, hyperlinks=False), options, style=self.rich_style, pad=False
            )
            self._lines = [Strip(line) for line in rendered]
            self._width = width
        return self._lines

    @property
    def shown(self) -> str:
        """The reply as drawn, as plain text (what a person reads)."""
        return "\n".join(line.text.rstrip() for line in self._draw(self.content_size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._draw(width))

    def render_line(self, y: int) -> Strip:
        lines = self._draw(self.content_size.width)
        return lines[y] if y < len(lines) else Strip.blank(self.content_size.width)

    def add(self, delta: str) -> None:
        """Queue a streamed piece; the timer draws it."""
        if self._timer is None:
            self._timer = self.set_interval(FLUSH_EVERY, self.flush)
        self._buffer.append(delta)
        self.received += delta

    def split_at(self, delta: str) -> int | None:
        """Where in ``delta`` this segment should end, the rest going to a new one: after
        the first paragraph break once the segment is ``SEGMENT`` long, outside a code
        block (a split there would show its halves as text); None to go on."""
        if len(self.received) < SEGMENT:
            return None
        text = self.received + delta
        start = max(len(self.received) - 1, 0)
        while (found := text.find("\n\n", start)) >= 0:
            cut = found + 2
            if len(FENCE.findall(text[:cut])) % 2 == 0:
                return cut - len(self.received)
            start = cut
        return None

    def flush(self, final: bool = False) -> None:
        """Draw what came since the last redraw; an escape sequence cut at its end waits
        for the rest, so it is removed whole, not left half-printed."""
        raw = "".join(self._buffer)
        self._buffer.clear()
        cut = len(raw) if final else _complete_up_to(raw)
        if cut < len(raw):
            self._buffer.append(raw[cut:])
        if text := clean(raw[:cut]):
            self._show(self.source + text)

    async def finish(self, text: str | None = None) -> None:
        """The reply is complete: draw what is left and stop; ``text`` is the whole reply,
        shown as such when nothing was streamed."""
        if self._timer is not None:
            self._timer.stop()
        self.flush(final=True)
        if not self.received and text:
            self._show(clean(text))
        self.finished = True


def _complete_up_to(text: str) -> int:
    """Where ``text`` is safe to clean: before an escape sequence begun in its last
    ``SEQUENCE_TAIL`` characters on the last line, which may not be over yet."""
    start = max(text.rfind("\x1b"), *(text.rfind(chr(code)) for code in range(0x80, 0xA0)))
    if start < 0 or len(text) - start > SEQUENCE_TAIL or "\n" in text[start:]:
        return len(text)
    return start
