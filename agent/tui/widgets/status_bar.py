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
        parts: list[Text] = [
            Text(clean(self.model), style="bold"),
            Text(self.mode, style=MODE_STYLES.get(self.mode, "bold")),
        ]
        if self.sandbox:
            style = "green" if self.sandbox == "sandbox on" else "yellow"
            parts.append(Text(self.sandbox, style=style))
        if self.context_tokens:
            percent = f"{self.context_percent:.0f}%"
            used = f"{tokens(self.context_tokens)} tokens ({percent})"
            if self.compact:
                used = f"ctx {percent}"
            parts.append(Text(used, style="red" if self.context_percent >= 80 else ""))
        parts.append(Text(f"${self.cost:.4f}"))
        if not self.compact or "building" in self.index:
            parts.append(Text(self.index))
        if self.branch and not self.compact:
            parts.append(Text(f"⎇ {clean(self.branch)}"))
        if self.uncommitted:
            words = "uncommitted" if self.compact else "file(s) not committed"
            parts.append(Text(f"✎ {self.uncommitted} {words}", style="yellow"))
        if self.busy:
            parts.insert(0, Text("●" if self.compact else "● Esc stops", style="bold italic"))
        return Text(" · ", style="dim").join(parts)

    def on_resize(self) -> None:
        self.compact = self.size.width < 100
