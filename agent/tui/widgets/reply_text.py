"""A finished reply, drawn as one widget: the cheap form of ``AssistantText``.

A streamed reply is a Textual ``Markdown``, a container of one widget per paragraph, list
item and code block (~14 for a short reply, ~0.75 MB), and every widget is laid out again
on every update of the screen. Once a reply is finished and out of sight it becomes this:
one ``Static`` drawing the same Markdown with rich (~0.1 MB). Links show their address;
nothing opens on a click.
"""

from __future__ import annotations

from rich.markdown import Markdown
from textual.widgets import Static

from agent.tui.render import clean


class ReplyText(Static):
    def __init__(self, text: str) -> None:
        super().__init__(Markdown(clean(text), hyperlinks=False))
        self.text = text
