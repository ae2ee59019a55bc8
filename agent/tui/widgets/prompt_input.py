"""The message box: multi-line, Enter sends, Ctrl+J (Shift+Enter where the terminal reports
it) adds a newline, Up/Down walk the history from its first or last line.

A paste arrives as one event and is inserted, never sent. Enter is handled as the keys
arrive, not as a priority binding: those run before the keys typed just before it are
inserted, and a fast typist (or tmux's send-keys) would send half a line.

While a word completes (``@`` a file, ``/`` a command at the start) the list above it
(``completions``) takes Up/Down, Tab and Enter. The file list comes from ``files``, called
in a thread (the index's list, or git's). Up in an empty box takes back the last queued
message (``take_queued``), to edit or drop it.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work
from textual.events import Blur, Key
from textual.message import Message
from textual.widgets import TextArea

from agent.tui.completion import Token, rank_commands, rank_files, token_at
from agent.tui.widgets.completions import Completions


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
        self.completions: Completions | None = None
        self.files: Callable[[], list[str]] | None = None
        self.more_commands: Callable[[], list[tuple[str, str]]] | None = None
        self.take_queued: Callable[[], str | None] | None = None
        self._paths: list[str] | None = None  # the file list, once loaded
        self._token: Token | None = None

    async def _on_key(self, event: Key) -> None:
        if self._completing() and event.key in ("tab", "enter"):
            event.stop()
            event.prevent_default()
            if not self._accept() and event.key == "enter":
                self.action_submit()
            return
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
        self.close_completions()
        self.post_message(self.Submitted(text))

    def action_cursor_up(self, select: bool = False) -> None:
        if self._completing() and not select:
            assert self.completions is not None
            self.completions.move(-1)
            return
        if not select and not self.text and self._browsing is None and self.take_queued:
            queued = self.take_queued()
            if queued is not None:
                self._show(queued)
                return
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
        if self._completing() and not select:
            assert self.completions is not None
            self.completions.move(1)
            return
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

    # Completion

    def _completing(self) -> bool:
        return self.completions is not None and self.completions.chosen is not None

    def close_completions(self) -> bool:
        """Close the list; whether it was open."""
        if self.completions is None or not self.completions.open:
            return False
        self.completions.close()
        self._token = None
        return True

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._complete()

    def _on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        self._complete()

    def _on_blur(self, event: Blur) -> None:
        self.close_completions()

    def _complete(self) -> None:
        if self.completions is None:
            return
        row, column = self.cursor_location
        token = token_at(self.text, row, column) if self.selection.is_empty else None
        opening = token is not None and (self._token is None or self._token.kind != token.kind)
        self._token = token
        if token is None:
            self.completions.close()
        elif token.kind == "command":
            more = self.more_commands() if self.more_commands is not None else None
            self.completions.show(rank_commands(token.typed, more))
        else:
            if opening or self._paths is None:
                self._load_files()  # again each time: files come and go
            self._show_files()

    def _show_files(self) -> None:
        token = self._token
        if self.completions is None or token is None or token.kind != "file":
            return
        if self._paths is None:
            self.completions.show([], empty="listing the files…")
            return
        found = rank_files(token.typed, self._paths)
        self.completions.show([(path, "") for path in found], empty="no file matches")

    @work(thread=True, exclusive=True, group="files")
    def _load_files(self) -> None:
        if self.files is None:
            return
        paths = self.files()
        self.app.call_from_thread(self._loaded, paths)

    def _loaded(self, paths: list[str]) -> None:
        self._paths = paths
        self._show_files()

    def _accept(self) -> bool:
        """Put the chosen entry in place of the word; False if it is there already."""
        assert self.completions is not None
        chosen, token = self.completions.chosen, self._token
        if chosen is None or token is None:
            return False
        row, column = self.cursor_location
        sigil = "@" if token.kind == "file" else "/"
        if token.typed == chosen:
            self.close_completions()
            return False
        self.replace(f"{sigil}{chosen} ", (row, token.start), (row, column))
        self.close_completions()
        return True
