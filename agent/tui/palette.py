"""The command palette (Ctrl+P): the slash commands (the MCP servers' prompts too), the
approval modes and Textual's own entries (theme, keys, quit), found by fuzzy search."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from agent.tui.commands import COMMANDS, MODES, TAKES_ARGUMENT

if TYPE_CHECKING:
    from agent.tui.app import ShipmateApp


class ShipmateCommands(Provider):
    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: ShipmateApp = self.app  # type: ignore[assignment]
        entries = [
            (
                f"Approval mode: {mode}",
                "how much the agent may do unasked",
                partial(app.choose_mode, mode),
            )
            for mode in MODES
        ]
        for name, help_ in COMMANDS.items():
            if name == "approval":
                continue
            action = partial(app.palette_command, name, name in TAKES_ARGUMENT)
            entries.append((f"/{name}", help_, action))
        for command in app.prompt_commands():
            action = partial(app.palette_command, command.name, bool(command.arguments))
            entries.append((f"/{command.name}", command.description, action))
        entries.append(("Stop the agent", "what Esc does", app.action_interrupt))
        return entries

    async def discover(self) -> Hits:
        for text, help_, action in self._entries():
            yield DiscoveryHit(text, action, help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_, action in self._entries():
            if (score := matcher.match(text)) > 0:
                yield Hit(score, matcher.highlight(text), action, help=help_)
