"""One line at the bottom: what the session runs with and what it has cost so far."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from agent.tui.render import clean, tokens

MODE_STYLES = {
    "read-only": "bold blue",
    "ask": "bold green",
    "auto-edit": "bold yellow",
    "full-auto": "bold red",
}


class StatusBar(Static):
    model = reactive("…")
    mode = reactive("ask")
    sandbox = reactive("")
    context_tokens = reactive(0)
    context_percent = reactive(0.0)
    cost = reactive(0.0)
    index = reactive("index: builds with the first message")
    compact = reactive(False)  # a narrow terminal: fewer words
    branch = reactive("")
    uncommitted = reactive(0)  # files the agent changed that are not committed
    busy = reactive(False)

    def render(self) -> Text:
        """The parts that fit, in order; when the line is too long the least needed go
        first (index, branch, sandbox), so the model, the mode and the cost always show."""
        parts: list[tuple[int, Text]] = []  # (keep priority: higher stays longer, part)
        if self.busy:
            parts.append((9, Text("●" if self.compact else "● Esc stops", style="bold italic")))
        parts.append((8, Text(clean(self.model), style="bold")))
        parts.append((9, Text(self.mode, style=MODE_STYLES.get(self.mode, "bold"))))
        if self.sandbox:
            on = self.sandbox == "sandbox on"  # off or unavailable matters more
            parts.append((3 if on else 8, Text(self.sandbox, style="green" if on else "yellow")))
        if self.context_tokens:
            percent = f"{self.context_percent:.0f}%"
            used = f"{tokens(self.context_tokens)} tokens ({percent})"
            if self.compact:
                used = f"ctx {percent}"
            parts.append((6, Text(used, style="red" if self.context_percent >= 80 else "")))
        parts.append((7, Text(f"${self.cost:.4f}")))
        if not self.compact or "building" in self.index:
            parts.append((1, Text(self.index)))
        if self.branch and not self.compact:
            parts.append((2, Text(f"⎇ {clean(self.branch)}")))
        if self.uncommitted:
            words = "" if self.compact else " uncommitted"
            parts.append((5, Text(f"✎ {self.uncommitted}{words}", style="yellow")))
        width = self.size.width or 10_000  # not laid out yet: everything
        while len(parts) > 2 and sum(len(text) + 3 for _, text in parts) - 3 > width:
            parts.remove(min(parts, key=lambda part: part[0]))
        return Text(" · ", style="dim").join(text for _, text in parts)

    def on_resize(self) -> None:
        self.compact = self.size.width < 100
