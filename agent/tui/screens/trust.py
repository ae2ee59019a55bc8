"""Asked once as a session starts: may a server the repository declares run?

It would run as the user, outside the sandbox, so the question shows exactly what would
run and where it was declared (both from the repository: plain text, never markup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from agent.tui.render import clean

if TYPE_CHECKING:
    from agent.mcp.config import Declared


class TrustScreen(ModalScreen[bool]):
    AUTO_FOCUS = "#not-now"  # Enter must not trust by accident
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "answer(True)", "Trust"),
        Binding("n", "answer(False)", "Not now"),
    ]

    def __init__(self, declared: Declared) -> None:
        super().__init__()
        self.declared = declared

    def compose(self) -> ComposeResult:
        item = self.declared
        question = Text()
        question.append(f"Start the MCP server '{clean(item.name)}'?\n\n", style="bold")
        question.append(f"Declared in {clean(item.where)}. It would run\n\n  ")
        question.append(clean(item.server.shown()), style="bold")
        question.append("\n\nas you, outside the sandbox. Trust it only if you know this command.")
        with Vertical(id="trust-box"):
            yield Static(question, id="trust-question")
            with Horizontal(id="trust-buttons"):
                yield Button("Trust (t)", id="trust", variant="warning")
                yield Button("Not now (n)", id="not-now", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "trust")

    def action_answer(self, trusted: bool) -> None:
        self.dismiss(trusted)
