"""The error a tool raises for the model to act on, and the wording of counts.

Kept apart from ``tools.base`` (pydantic models, the event types) so that what only reads
files, such as the code index, starts without importing them.
"""

from __future__ import annotations


class ToolError(Exception):
    """A failure the model can act on; it goes back to the model as the tool's result."""


def plural(count: int, noun: str, many: str = "") -> str:
    """``1 line``, ``2 lines``: summaries people read (``many``: an irregular plural)."""
    return f"{count:,} " + (noun if count == 1 else many or f"{noun}s")
