"""Sessions that go on: ``run --continue`` and ``--resume ID`` send the stored history, a
session killed half-way resumes with a valid history, and ``shipmate sessions`` lists and
shows them.

Runs go in-process through ``run_task`` (the function behind ``shipmate run``) against the
scripted model, with flags read by the real argument parser; a few real processes check
what only the command shows (a SIGKILL, exit codes).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_conversation import well_formed
from test_imports import loaded_after

from agent.cli import build_parser, run_options
from agent.config import Settings, data_dir
from agent.context.history import INTERRUPTED
from agent.events import (
    Compacted,
    Result,
    SessionStarted,
    ToolStarted,
    Usage,
    UsageUpdated,
    UserMessage,
)
from agent.frontends.headless import run_task
from agent.frontends.sessions import ago, sessions_command
from agent.frontends.transcript import transcript
from agent.session import SessionError, SessionStore

from helpers import REPO_ROOT, git, run_cli
from scripted_llm import Reply, ScriptedLLM, tool


async def run(
    llm: ScriptedLLM, repo: Path, task: str, *flags: str, model: str = "scripted"
) -> tuple[int, dict, str]:
    """``shipmate run TASK FLAGS --output-format json``: exit code, result object, stderr."""
    parser = build_parser()
    args = parser.parse_args(["run", task, "--output-format", "json", *flags])
    options = run_options(parser.command("run"), args)
    settings = Settings(model=model, api_base=llm.url, approval="full-auto", max_retries=0)
    out, err = io.StringIO(), io.StringIO()
    code = await run_task(task, settings, repo, options, out, err)
    return code, json.loads(out.getvalue().splitlines()[-1]), err.getvalue()


def store() -> SessionStore:
    return SessionStore(data_dir() / "sessions.db")


def roles(messages: list[dict]) -> list[str]:
    return [message["role"] for message in messages]


async def test_continue_sends_the_whole_earlier_conversation(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(text="Looking.", calls=[tool("read_file", path="textutil.py")]),
        Reply(text="It slugifies text."),
        Reply(text="It has two tests."),
    )
    code, first, _ = await run(llm, repo, "what does textutil do?")
    assert code == 0
    code, second, _ = await run(llm, repo, "and its tests?", "--continue")
    assert (code, second["status"], second["result"]) == (0, "success", "It has two tests.")
    assert second["session_id"] == first["session_id"]
    sent = llm.requests[2]["messages"]
    assert roles(sent) == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[1]["content"].endswith("what does textutil do?")
    assert sent[3]["content"] == llm.requests[1]["messages"][3]["content"]  # the file as read
    assert sent[4]["content"] == "It slugifies text." and sent[5]["content"].endswith("tests?")
    assert well_formed(sent)
    # Only the newest repo map is sent whole, as within one process.
    assert [m["content"].count("<repository_map>") for m in sent if m["role"] == "user"] == [0, 1]
    # The stored session goes on where it stopped: every event kept, nothing refused.
    sessions = store()
    events = sessions.events(first["session_id"])
    types = [event["type"] for event in events]
    assert types.count("session_started") == 2 and types.count("result") == 2
    assert [e["resumed"] for e in events if e["type"] == "session_started"] == [False, True]
    assert "error" not in types
    assert roles(sessions.messages(first["session_id"])) == [*roles(sent), "assistant"]
    (summary,) = sessions.summaries(repo)
    assert (summary.status, summary.requests, summary.turns) == ("success", 2, 3)
    assert summary.title == "what does textutil do?"


async def test_resume_a_given_session_by_a_prefix_of_its_id(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="About slugify."), Reply(text="About the docs."), Reply(text="Back."))
    _, older, _ = await run(llm, repo, "explain slugify")
    _, newer, _ = await run(llm, repo, "explain the docs")
    code, result, _ = await run(
        llm, repo, "go on", "--resume", older["session_id"][:6], model="other"
    )
    assert code == 0 and result["session_id"] == older["session_id"]
    sent = llm.requests[2]["messages"]
    assert [m["content"] for m in sent if m["role"] == "assistant"] == ["About slugify."]
    assert "explain the docs" not in json.dumps(sent)
    # The model is today's, and that it changed is said.
    sessions = store()
    started = [e for e in sessions.events(older["session_id"]) if e["type"] == "session_started"]
    assert [e["model"] for e in started] == ["openai/scripted", "openai/other"]
    notice = "This session ran with openai/scripted before; it goes on with openai/other."
    assert notice in started[1]["notices"]
    assert [s.id for s in sessions.summaries(repo)] == [older["session_id"], newer["session_id"]]
    assert sessions.get(older["session_id"]).model == "openai/other"
    # Text output says which session goes on, and the model notice.
    parser = build_parser()
    args = parser.parse_args(["run", "more", "--continue"])
    settings = Settings(model="third", api_base=llm.url, approval="full-auto", max_retries=0)
    out, err = io.StringIO(), io.StringIO()
    llm.add(Reply(text="More."))
    options = run_options(parser.command("run"), args)
    assert await run_task("more", settings, repo, options, out, err) == 0
    assert out.getvalue() == "More.\n"
    assert f"resuming session {older['session_id'][:12]}\n" in err.getvalue()
    assert "note: This session ran with openai/other before; it goes on with openai/third." in (
        err.getvalue()
    )


async def test_sessions_that_cannot_be_resumed_here_are_clear_errors(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    code, result, err = await run(llm, repo, "go on", "--continue")
    assert (code, result["status"]) == (2, "config_error")
    assert "There is no session to continue in" in result["error"] and "shipmate run" in err
    code, result, _ = await run(llm, repo, "go on", "--resume", "0123")
    assert code == 2 and result["error"].startswith("There is no session '0123'")

    sessions = store()
    elsewhere = tmp_path / "elsewhere"
    for session_id in ("abc1" + "0" * 28, "abc2" + "0" * 28):
        sessions.create(session_id, elsewhere, "openai/scripted", "a task")
        sessions.finish(Result(status="success", session_id=session_id))
    code, result, _ = await run(llm, repo, "go on", "--resume", "abc")
    assert code == 2
    assert result["error"] == (
        "'abc' matches 2 sessions (abc200000000, abc100000000); give more of the id."
    )
    code, result, _ = await run(llm, repo, "go on", "--resume", "abc1")
    assert code == 2
    assert result["error"] == (
        f"Session abc100000000 belongs to {elsewhere}, not this workspace; resume it there "
        f"(shipmate run -C {elsewhere} --resume abc100000000 TASK)."
    )
    # One another process is still running.
    sessions.create("def" + "0" * 29, repo, "openai/scripted", "busy")
    sessions.db.execute("UPDATE sessions SET pid=? WHERE id LIKE 'def%'", (os.getppid(),))
    code, result, _ = await run(llm, repo, "go on", "--continue")
    assert code == 2 and "is still running (process" in result["error"]
    assert llm.requests == []  # none of them reached the model


async def test_a_session_killed_mid_turn_resumes_with_every_call_answered(
    llm: ScriptedLLM, repo: Path
) -> None:
    """What a killed process leaves: the assistant's tool calls stored, their answers not,
    and the session still marked running by a process that is gone."""
    sessions = store()
    session_id = "f" * 32
    sessions.create(session_id, repo, "openai/scripted", "fix it")
    sessions.db.execute("UPDATE sessions SET pid=NULL WHERE id=?", (session_id,))
    calls = [
        {"id": f"call_{n}", "type": "function", "function": {"name": "grep", "arguments": "{}"}}
        for n in (1, 2)
    ]
    stored = [
        {"role": "system", "content": "old prompt"},
        {"role": "user", "content": "fix it"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
    ]
    for seq, message in enumerate(stored):
        sessions.add_message(session_id, seq, message)
    sessions.add_event(session_id, UserMessage(text="fix it"))
    assert sessions.get(session_id).status == "interrupted"

    llm.add(Reply(text="Done now."))
    code, result, _ = await run(llm, repo, "go on", "--continue")
    assert (code, result["session_id"]) == (0, session_id)
    sent = llm.requests[0]["messages"]
    assert well_formed(sent)
    assert roles(sent) == ["system", "user", "assistant", "tool", "tool", "user"]
    assert sent[4] == {"role": "tool", "tool_call_id": "call_2", "content": INTERRUPTED}
    assert sent[0]["content"] != "old prompt"  # today's system prompt
    # The repair is stored, so positions stored later follow the history sent.
    again = sessions.messages(session_id)
    assert again[:5] == [*stored, sent[4]]
    assert again[5]["_request"] == "go on" and again[6]["content"] == "Done now."
    assert sessions.get(session_id).status == "success"


async def test_the_last_compaction_is_handed_to_the_resumed_conversation(
    llm: ScriptedLLM, repo: Path
) -> None:
    from agent.conversation import Conversation

    from helpers import make_agent

    llm.add(Reply(text="First."))
    first = make_agent(llm, repo)
    async for _ in first.send("start"):
        pass
    note = Compacted(tokens_before=900, tokens_after=300, summary="The goal: X.", upto=2)
    first.store.add_event(first.session_id, note)
    info = first.store.to_resume(repo, first.session_id[:8])
    resumed = Conversation.resume(
        info,
        store=first.store,
        llm=first.llm,
        settings=first.settings,
        workspace=repo,
        approver=first.approver,
        sandbox=first.sandbox,
        rules=first.permissions.rules,
    )
    assert resumed.resumed and resumed.session_id == first.session_id
    assert resumed.compacted is not None and resumed.compacted.summary == "The goal: X."
    assert resumed.messages == first.messages


def test_a_schema_1_database_is_read_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE sessions (id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT
            NULL, workspace TEXT NOT NULL, model TEXT NOT NULL, title TEXT NOT NULL, status
            TEXT NOT NULL, result TEXT);
        CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT
            NULL, data TEXT NOT NULL, PRIMARY KEY (session_id, seq));
        CREATE TABLE messages (session_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT
            NULL, PRIMARY KEY (session_id, seq));
        PRAGMA user_version=1;
        """
    )
    old.execute(
        "INSERT INTO sessions VALUES ('old1', 1.0, 2.0, '/ws', 'm', 'fix it', 'success', NULL)"
    )
    result = Result(status="success", turns=3, cost_usd=0.5, files_changed=["a.py"], session_id="x")
    old.execute("INSERT INTO events VALUES ('old1', 0, 'result', ?)", (result.model_dump_json(),))
    for seq, cost in ((1, 0.125), (2, 0.125), (3, 0.25)):  # a usage event per model call
        call = UsageUpdated(call=Usage(cost_usd=cost), total=Usage())
        old.execute(
            "INSERT INTO events VALUES ('old1', ?, 'usage', ?)", (seq, call.model_dump_json())
        )
    old.commit()
    old.close()
    sessions = SessionStore(path)
    assert sessions.problem is None
    (summary,) = sessions.summaries(Path("/ws"))
    assert (summary.id, summary.status, summary.turns, summary.requests) == (
        "old1",
        "success",
        3,
        1,
    )
    assert (summary.cost_usd, summary.files_changed) == (0.5, ["a.py"])
    sessions.create("new1", Path("/ws"), "m", "next\ntask")
    assert sessions.get("new1").status == "running"  # this process runs it
    assert sessions.get("new1").title == "next task"
    assert sessions.db.execute("PRAGMA user_version").fetchone()[0] == 2


async def test_sessions_lists_newest_first_and_shows_a_transcript(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    llm.add(
        Reply(text="Editing.", calls=[tool("write_file", path="notes.md", content="hi\n")]),
        Reply(text="Wrote notes.md."),
        Reply(calls=[tool("read_file", path="missing.py")]),
        Reply(text="There is no missing.py."),
        Reply(text="Other workspace."),
    )
    _, first, _ = await run(llm, repo, "write\nnotes")
    _, same, _ = await run(llm, repo, "read missing.py", "--continue")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    _, elsewhere, _ = await run(llm, other, "hello there")

    out = io.StringIO()
    assert sessions_command(repo, show=None, as_json=True, every=False, out=out) == 0
    (listed,) = json.loads(out.getvalue())["sessions"]
    assert listed["id"] == first["session_id"] == same["session_id"]
    assert listed["title"] == "write notes" and listed["status"] == "success"
    assert (listed["requests"], listed["turns"], listed["files_changed"]) == (2, 4, ["notes.md"])
    assert listed["updated"].endswith("Z") and "pid" not in listed

    out = io.StringIO()
    assert sessions_command(repo, show=None, as_json=False, every=True, out=out) == 0
    header, newest, older = out.getvalue().splitlines()
    assert header.split() == [
        "ID",
        "WHEN",
        "STATUS",
        "TURNS",
        "COST",
        "FILES",
        "WORKSPACE",
        "TITLE",
    ]
    assert newest.startswith(elsewhere["session_id"][:12]) and newest.endswith("hello there")
    assert older.split()[:7] == [
        first["session_id"][:12],
        "just",
        "now",
        "success",
        "4",
        "$0.0000",
        "1",
    ]

    out = io.StringIO()
    assert (
        sessions_command(repo, show=first["session_id"][:8], as_json=False, every=False, out=out)
        == 0
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == f"session {first['session_id']} · success · openai/scripted"
    body = lines[2:]
    assert body[:4] == ["", "> write", "> notes", "Editing."]
    assert body[4].startswith("  write notes.md · ✓")
    assert body[5:7] == ["Wrote notes.md.", "— success · 2 turns · $0.0000 · 1 file changed"]
    assert body[7] == "" and body[8].startswith("── resumed with openai/scripted (")
    assert body[9:] == [
        "",
        "> read missing.py",
        body[11],
        "There is no missing.py.",
        "— success · 2 turns · $0.0000 · 0 files changed",
    ]
    assert body[11].startswith("  read missing.py · ✗ ")

    out = io.StringIO()
    assert sessions_command(repo, show=first["session_id"], as_json=True, every=False, out=out) == 0
    shown = json.loads(out.getvalue())
    assert shown["session"]["id"] == first["session_id"]
    assert [e["type"] for e in shown["events"]].count("user_message") == 2


def test_a_transcript_marks_calls_a_killed_process_never_finished(tmp_path: Path) -> None:
    sessions = SessionStore(tmp_path / "sessions.db")
    session_id = "k" * 32
    sessions.create(session_id, tmp_path, "m", "an old task")
    started = SessionStarted(
        session_id=session_id, model="m", workspace=str(tmp_path), approval="ask", tools=[]
    )
    sessions.add_event(session_id, started)
    call = ToolStarted(call_id="c", name="run_command", kind="execute", summary="$ sleep 60")
    sessions.add_event(session_id, call)
    lines = transcript(sessions.get(session_id), sessions.events(session_id))
    # No user_message stored (a session of an older version): its title stands in.
    assert lines[2:] == [
        "",
        "> an old task",
        "  $ sleep 60 · ? interrupted (Shipmate stopped before it finished)",
    ]


def test_when_reads_at_a_glance() -> None:
    now = 1_750_000_000.0
    assert [ago(now - s, now) for s in (5, 150, 7200, 2 * 86400)] == [
        "just now",
        "2 min ago",
        "2 h ago",
        "2 days ago",
    ]
    assert len(ago(now - 30 * 86400, now)) == len("2025-05-15")


async def test_a_killed_run_continues_from_the_real_command(llm: ScriptedLLM, repo: Path) -> None:
    """A real ``shipmate run`` SIGKILLed while its command runs, then ``--continue``."""
    flags = ["--model", "scripted", "--api-base", llm.url, "--approval", "full-auto"]
    llm.add(
        Reply(text="Waiting.", calls=[tool("run_command", command="touch started; sleep 60")]),
        Reply(text="It was interrupted; nothing to do."),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "run",
            "wait for it",
            *flags,
            "--output-format",
            "stream-json",
        ],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        started = json.loads(process.stdout.readline())
        deadline = time.monotonic() + 60
        while not (repo / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (repo / "started").exists()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    session_id = started["session_id"]
    listed = run_cli("sessions", "--json", cwd=repo)
    killed = json.loads(listed.stdout)["sessions"][0]
    assert killed["status"] == "interrupted"
    assert killed["turns"] == 1  # the model call made before the kill counts, with no result

    # --continue in-process: the killed process's session is what matters, not a new one.
    code, result, err = await run(llm, repo, "what happened?", "--continue")
    assert code == 0, err
    assert result["session_id"] == session_id
    sent = llm.requests[-1]["messages"]
    assert well_formed(sent)
    assert roles(sent) == ["system", "user", "assistant", "tool", "user"]
    assert sent[3]["content"] == INTERRUPTED and sent[4]["content"].endswith("what happened?")

    shown = run_cli("sessions", "show", session_id[:10], cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "  $ touch started; sleep 60 · ? interrupted" in shown.stdout
    assert "— interrupted (Shipmate stopped before this turn ended)" in shown.stdout
    assert "It was interrupted; nothing to do." in shown.stdout
    elsewhere = run_cli("run", "--resume", session_id, "x", *flags, cwd=repo.parent)
    assert elsewhere.returncode == 2
    assert f"belongs to {repo}, not this workspace" in elsewhere.stderr
    assert "Traceback" not in elsewhere.stderr


def test_listing_sessions_does_not_import_litellm(tmp_path: Path) -> None:
    modules = loaded_after(
        "from agent.cli import main\n"
        f"assert main(['sessions', '--all', '-C', {str(tmp_path)!r}]) == 0\n"
        f"assert main(['sessions', 'show', 'abc', '--json', '-C', {str(tmp_path)!r}]) == 2"
    )
    assert "agent.frontends.sessions" in modules and "litellm" not in modules


def test_resuming_claims_the_session_at_once(repo: Path) -> None:
    """The check and the mark are one transaction, made before the model is even loaded:
    a second run resuming the same session a moment later is refused, so two processes never
    write their messages over each other's."""
    first, second = store(), store()
    session_id = "fed" + "0" * 29
    first.create(session_id, repo, "openai/scripted", "a task")
    first.finish(Result(status="success", session_id=session_id))
    claimed = first.to_resume(repo, "fed")
    raw = second.db.execute("SELECT status, pid FROM sessions WHERE id=?", (session_id,))
    assert raw.fetchone() == ("running", os.getpid())
    # As another live process would have claimed it:
    first.db.execute("UPDATE sessions SET pid=? WHERE id=?", (os.getppid(), claimed.id))
    with pytest.raises(SessionError, match="is still running"):
        second.to_resume(repo, None)


def test_a_claimed_session_is_given_back_when_the_run_cannot_start(repo: Path) -> None:
    sessions = store()
    session_id = "bee" + "0" * 29
    sessions.create(session_id, repo, "openai/scripted", "a task")
    sessions.finish(Result(status="success", session_id=session_id))
    claimed = sessions.to_resume(repo, "bee")
    sessions.release(claimed)
    assert sessions.get(session_id).status == "success"
