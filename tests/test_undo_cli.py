"""``shipmate undo`` and ``shipmate diff`` as a user runs them: which session, and every refusal."""

from __future__ import annotations

import os
from pathlib import Path

from agent.config import data_dir
from agent.session import SessionStore

from helpers import drain, edit, make_agent, run_cli
from scripted_llm import Reply, ScriptedLLM


async def two_sessions(llm: ScriptedLLM, repo: Path) -> tuple[str, str]:
    """Two sessions in ``repo``, each adding one import (stored where the CLI looks)."""
    ids = []
    for name in ("os", "sys"):
        llm.add(edit("textutil.py", "import re\n", f"import re\nimport {name}\n"), Reply(text="ok"))
        agent = make_agent(llm, repo, approval="auto-edit")
        agent.store = SessionStore(data_dir() / "sessions.db")
        agent.checkpoints.store = agent.store
        await drain(agent, f"import {name}")
        agent.store.close()
        ids.append(agent.session_id)
    return ids[0], ids[1]


async def test_undo_takes_the_newest_session_or_the_one_named(llm: ScriptedLLM, repo: Path) -> None:
    first, second = await two_sessions(llm, repo)
    shown = run_cli("diff", "--session", first[:8], cwd=repo)
    assert "+import os" in shown.stdout and "import sys" not in shown.stdout
    newest = run_cli("undo", cwd=repo)
    assert newest.returncode == 0 and f"session {second[:12]}" in newest.stdout
    assert "import sys" not in (repo / "textutil.py").read_text()
    named = run_cli("undo", "--session", first[:8], cwd=repo)
    assert named.returncode == 0, named.stderr
    assert "import os" not in (repo / "textutil.py").read_text()


async def test_undo_refusals_name_the_reason(llm: ScriptedLLM, repo: Path, tmp_path: Path) -> None:
    nowhere = run_cli("undo", cwd=repo)
    assert nowhere.returncode == 2 and "no Shipmate session" in nowhere.stderr
    first, second = await two_sessions(llm, repo)
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = run_cli("undo", "--session", first[:8], cwd=other)
    assert elsewhere.returncode == 2 and "belongs to" in elsewhere.stderr
    unknown = run_cli("undo", "--session", "ffffffff", cwd=repo)
    assert unknown.returncode == 2 and "no session 'ffffffff'" in unknown.stderr
    store = SessionStore(data_dir() / "sessions.db")
    store.db.execute(
        "UPDATE sessions SET status='running', pid=? WHERE id=?", (os.getppid(), second)
    )
    store.close()
    running = run_cli("undo", cwd=repo)
    assert running.returncode == 1 and "is running" in running.stderr
    (repo / "textutil.py").write_text("the user's rewrite\n")
    changed = run_cli("undo", "--session", first[:8], cwd=repo)
    assert changed.returncode == 1 and "textutil.py changed after Shipmate's edit" in changed.stderr
    assert "--force" in changed.stderr
    assert (repo / "textutil.py").read_text() == "the user's rewrite\n"
