"""The prompts, as Markdown files shipped inside the package."""

from __future__ import annotations

from importlib import resources


def load(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``system.md`` or ``modes/ask.md``)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
