"""The /sessions picker: this workspace's sessions, newest first; Enter resumes one in
place, Esc closes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.tui.render import clean

if TYPE_CHECKING:
    from agent.session import SessionSummary

TITLE = "Sessions in this workspace · Enter resumes · Esc closes"


class SessionsScreen(ModalScreen[str | None]):
    """Dismissed with the chosen session's id, or None (Esc: the app's binding closes it)."""

    def __init__(self, sessions: list[SessionSummary], current: str | None = None) -> None:
        super().__init__()
        self.sessions = sessions
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static(TITLE, id="sessions-title", markup=False)
        if not self.sessions:
            yield Static("No stored session here yet.", markup=False)
        options = [Option(line(s, s.id == self.current), id=s.id) for s in self.sessions]
        yield OptionList(*options, id="sessions")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(message.option.id)


def line(session: SessionSummary, current: bool) -> Text:
    """One session: short id, when, status, title (the title is the user's text, cleaned)."""
    from agent.session import short_id

    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(session.updated))
    shown = Text(f"{short_id(session.id)}  ", style="bold")
    shown.append(f"{when}  ")
    shown.append(f"{session.status:<11}  ", style="dim")
    shown.append(clean(session.title).replace("\n", " ")[:80])
    if current:
        shown.append("  (this one)", style="italic")
    return shown
