"""The small list above the input while a word completes: ``@`` files, ``/`` commands.

It never takes the focus: the input keeps the keys and moves the choice (Up/Down), takes it
(Tab/Enter) or closes the list (Esc). File names are untrusted: shown cleaned, never as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.tui.render import clean


class Completions(Static):
    can_focus = False

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[tuple[str, str]] = []  # (what is inserted, its one-line help)
        self.index = 0
        self.empty = ""
        self.display = False

    @property
    def open(self) -> bool:
        return self.display

    @property
    def chosen(self) -> str | None:
        return self.entries[self.index][0] if self.open and self.entries else None

    def show(self, entries: list[tuple[str, str]], empty: str = "") -> None:
        """List ``entries`` (``empty`` says why there are none; nothing closes the list)."""
        if not entries and not empty:
            self.close()
            return
        if [value for value, _ in entries] != [value for value, _ in self.entries]:
            self.index = 0
        self.entries = entries
        self.empty = empty
        self.display = True
        self.refresh(layout=True)

    def close(self) -> None:
        self.entries = []
        self.index = 0
        self.display = False

    def move(self, step: int) -> None:
        if self.entries:
            self.index = (self.index + step) % len(self.entries)
            self.refresh()

    def render(self) -> Text:
        if not self.entries:
            return Text(self.empty, style="italic dim")
        shown = Text()
        width = max(len(clean(value)) for value, _ in self.entries)
        for number, (value, help_) in enumerate(self.entries):
            line = Text(clean(value), style="bold")
            if help_:
                line.append(" " * (width - len(line)) + "  " + clean(help_), style="dim")
            if number == self.index:
                line.stylize("reverse")
            if number:
                shown.append("\n")
            shown.append(line)
        return shown
