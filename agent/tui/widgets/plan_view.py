"""The agent's plan as a checklist, updated in place as the agent works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from agent.tui.render import clean

if TYPE_CHECKING:
    from agent.events import PlanItem

MARKS = {"pending": ("☐", ""), "in_progress": ("▶", "bold"), "completed": ("☑", "dim strike")}


class PlanView(Static):
    def __init__(self, items: list[PlanItem]) -> None:
        super().__init__()
        self.items = items

    def show(self, items: list[PlanItem]) -> None:
        self.items = items
        self.refresh(layout=True)

    def render(self) -> Text:
        out = Text("Plan", style="bold")
        for item in self.items:
            mark, style = MARKS[item.status]
            out.append(f"\n{mark} ")
            out.append(clean(item.step), style=style)
        return out
