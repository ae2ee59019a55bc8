"""A titled block of untrusted text that folds away on a click (/map)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Collapsible, Static
from textual.widgets._collapsible import CollapsibleTitle

from agent.tui.render import clean, plain


class OutputBlock(Collapsible):
    """``title`` and ``text`` are untrusted (a query, a repository's names): Collapsible
    parses a ``str`` title as markup, so the title is set as literal ``Content``."""

    def __init__(self, title: str, text: str, collapsed: bool = False) -> None:
        super().__init__(Static(plain(text)), title="", collapsed=collapsed)
        self.raw_title = title  # ``title`` is Collapsible's, and markup
        self.heading = Content(clean(title))
        self.text = text

    def on_mount(self) -> None:
        self.query_one(CollapsibleTitle).label = self.heading
