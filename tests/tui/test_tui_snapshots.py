"""What the main screens look like (``--snapshot-update`` records them again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import make_app, ready, say, until
from textual.pilot import Pilot

from agent.tui.widgets import conversation_view
from agent.tui.widgets.assistant_text import AssistantText
from agent.tui.widgets.earlier import Earlier
from agent.tui.widgets.note import Note
from agent.tui.widgets.user_message import UserMessage

from scripted_llm import Reply, ScriptedLLM, tool


def test_an_empty_session(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    assert snap_compare(make_app(llm, repo), terminal_size=(120, 40), run_before=ready)


def test_an_empty_session_in_60_columns(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    assert snap_compare(make_app(llm, repo), terminal_size=(60, 30), run_before=ready)


def test_a_pending_approval(snap_compare: Any, llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(
            text="I'll add the import.",
            calls=[
                tool(
                    "edit_file",
                    path="textutil.py",
                    old_text="import re\n",
                    new_text="import re\nimport unicodedata\n",
                )
            ],
        )
    )
    app = make_app(llm, repo, approval="ask")

    async def pending(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await say(pilot, "strip accents in slugify")
        await until(pilot, lambda: bool(app.pending) and app.focused is app.pending[0])
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=pending)


def test_blocks_made_again_after_pruning(
    snap_compare: Any, llm: ScriptedLLM, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oldest blocks left the DOM; the line at the top was clicked: the reply comes
    back as one ``ReplyText``, looking like the Markdown it was, under the line that says
    what is still pruned."""
    monkeypatch.setattr(conversation_view, "KEEP", 4)
    monkeypatch.setattr(conversation_view, "BATCH", 2)
    app = make_app(llm, repo)

    async def scrolled_back(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await app.view.add(UserMessage("why does slugify drop accents?"))
        await app.view.add(AssistantText(REPLY))
        for number in range(5):
            await app.view.add(Note(f"note {number}"))
        await pilot.pause()
        await pilot.click(Earlier)
        await until(pilot, lambda: len(app.view.pruned) == 1)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(120, 40), run_before=scrolled_back)


REPLY = """It keeps only **ASCII** letters:

1. normalise with `NFKD`
2. drop the marks

```python
text = unicodedata.normalize("NFKD", text)
```"""
