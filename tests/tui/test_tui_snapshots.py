"""What the main screens look like (``--snapshot-update`` records them again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_app, ready, say, until
from textual.pilot import Pilot

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
