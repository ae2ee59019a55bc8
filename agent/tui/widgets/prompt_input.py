"""The message box: multi-line, Enter sends, Ctrl+J (Shift+Enter where the terminal reports
it) adds a newline, Up/Down walk the history from its first or last line.

A paste arrives as one event and is inserted, never sent. Enter is handled as the keys
arrive, not as a priority binding: those run before the keys typed just before it are
inserted, and a fast typist (or tmux's send-keys) would send half a line.
"""

from __future__ import annotations

from textual.events import Key
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.sent: list[str] = []
        self._browsing: int | None = None  # the history entry shown, while walking it
        self._draft = ""

    async def _on_key(self, event: Key) -> None:
        if event.key in ("enter", "ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            if event.key == "enter":
                self.action_submit()
            else:
                self.insert("\n")
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._browsing = None
        self.clear()
        self.post_message(self.Submitted(text))

    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] > 0 or not self.sent:
            super().action_cursor_up(select)
            return
        if self._browsing is None:
            self._draft = self.text
            self._browsing = len(self.sent)
        if self._browsing > 0:
            self._browsing -= 1
            self._show(self.sent[self._browsing])

    def action_cursor_down(self, select: bool = False) -> None:
        last = self.document.line_count - 1
        if select or self._browsing is None or self.cursor_location[0] < last:
            super().action_cursor_down(select)
            return
        self._browsing += 1
        if self._browsing >= len(self.sent):
            self._browsing = None
            self._show(self._draft)
        else:
            self._show(self.sent[self._browsing])

    def _show(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)
