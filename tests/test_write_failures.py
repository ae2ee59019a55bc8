"""Writes the disk refuses: the file tools, Shipmate's own files, and a whole run on a
read-only home. Every failure is one plain sentence (what, where, why), never a traceback or
a temp file's name, and nothing is left behind.

Tests run as root in CI, where chmod stops nothing, so a read-only file system, a full disk
and a folder without permission are made for real with bubblewrap: a read-only bind mount, a
tiny tmpfs, and a user namespace in which the workspace belongs to someone else.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.policy.permissions import Permissions
from agent.policy.rules import Rule, RuleBook, RulesNotSaved
from agent.session import SessionStore
from tools.base import ToolContext, ToolError
from tools.files import WriteFile
from tools.sandbox import find_bubblewrap
from tools.shell import RunCommand

from helpers import REPO_ROOT, make_agent, run_cli
from scripted_llm import Reply, ScriptedLLM, tool

# Runs the three writers in WS (argv[1]) and prints what each answered, as JSON.
WRITERS = """
import asyncio, json, sys
from pathlib import Path
from tools.base import ToolContext, ToolError
from tools.edit import EditFile
from tools.files import ReadFile, WriteFile

async def main():
    ctx = ToolContext(Path(sys.argv[1]))
    if sys.argv[2] == "create":
        Path(sys.argv[1], "app.py").write_text("x = 1\\n")
    await ReadFile(path="app.py").run(ctx)
    big = "y = 2\\n" * 20_000
    calls = {
        "edit": EditFile(path="app.py", old_text="x = 1", new_text=big),
        "replace": WriteFile(path="app.py", content=big),
        "create": WriteFile(path="pkg/new.py", content=big),
    }
    answers = {}
    for name, call in calls.items():
        try:
            answers[name] = "wrote " + (await call.run(ctx)).output[:40]
        except ToolError as error:
            answers[name] = str(error)
        except Exception as error:
            answers[name] = f"RAW {type(error).__name__}: {error}"
    print(json.dumps(answers))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def bwrap() -> str:
    found, why = find_bubblewrap()
    if found is None or not found.user_namespace:
        if os.environ.get("CI"):
            pytest.fail(f"these tests must run in CI, but bubblewrap cannot: {why}")
        pytest.skip(why)
    return found.path


def writers_in(bwrap: str, ws: Path, mounts: list[str], create: bool = False) -> dict[str, str]:
    done = subprocess.run(
        [bwrap, "--bind", "/", "/", *mounts, "--dev", "/dev", "--proc", "/proc", "--",
         sys.executable, "-c", WRITERS, str(ws), "create" if create else "keep"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def left_behind(folder: Path) -> list[str]:
    return [path.name for path in folder.rglob("*") if "shipmate-tmp" in path.name]


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("read-only", "the file system is read-only"),
        ("full", "the disk is full"),
        ("not-permitted", "permission denied"),
    ],
)
def test_writers_say_what_could_not_be_written_and_why(
    condition: str, reason: str, ws: Path, bwrap: str
) -> None:
    (ws / "app.py").write_text("x = 1\n")
    if condition == "read-only":
        answers = writers_in(bwrap, ws, ["--ro-bind", str(ws), str(ws)])
    elif condition == "full":
        answers = writers_in(bwrap, ws, ["--size", "65536", "--tmpfs", str(ws)], create=True)
    else:  # the workspace belongs to root, seen from a user namespace as uid 1000
        ws.chmod(0o555)
        answers = writers_in(bwrap, ws, ["--unshare-user", "--uid", "1000"])
        ws.chmod(0o755)
    assert answers == {
        "edit": f"app.py could not be written: {reason}; the file on disk is as it was.",
        "replace": f"app.py could not be written: {reason}; the file on disk is as it was.",
        "create": f"pkg/new.py could not be written: {reason}; no file was created.",
    }
    assert (ws / "app.py").read_text() == "x = 1\n"
    assert left_behind(ws) == []


async def test_a_name_too_long_is_refused_plainly(ctx: ToolContext, ws: Path) -> None:
    with pytest.raises(ToolError, match="has a name longer than 255 bytes"):
        await WriteFile(path="a" * 300 + ".py", content="x").run(ctx)
    # A name just short enough works: the temp file's name is kept short too.
    await WriteFile(path="b" * 250 + ".py", content="x").run(ctx)
    assert (ws / ("b" * 250 + ".py")).read_text() == "x"
    assert left_behind(ws) == []


async def test_a_folder_in_the_way_is_said(ctx: ToolContext, ws: Path) -> None:
    (ws / "app.py").mkdir()
    with pytest.raises(ToolError, match=r"app\.py is a folder"):
        await WriteFile(path="app.py", content="x").run(ctx)
    (ws / "notes").write_text("a file")
    with pytest.raises(ToolError, match="'notes' on its way is not a folder"):
        await WriteFile(path="notes/a.py", content="x").run(ctx)


def blocked(tmp_path: Path) -> Path:
    """A folder that cannot be created, even by root: a regular file is in its way."""
    (tmp_path / "blocker").write_text("")
    return tmp_path / "blocker" / "shipmate"


def test_rules_that_cannot_be_saved_still_apply_for_the_session(ws: Path, tmp_path: Path) -> None:
    book = RuleBook(ws)
    book.path = blocked(tmp_path) / "rules.json"
    rule = Rule(action="allow", tool="command", pattern="pytest *")
    with pytest.raises(RulesNotSaved, match=r"rules.json cannot be written \(a file stands"):
        book.add(rule)
    assert book.rules == [rule]
    permissions = Permissions("ask", book, ws, sandboxed=True)
    told = permissions.remember(Rule(action="allow", tool="command", pattern="make *"))
    assert told is not None and told.startswith("'allow command make *' applies to this session")
    assert permissions.check(RunCommand(command="make test")).verdict == "allow"


def test_a_rule_that_cannot_be_removed_stays(ws: Path, tmp_path: Path) -> None:
    book = RuleBook(ws)
    book.add(Rule(action="allow", tool="command", pattern="pytest *"))
    saved = book.path
    book.path = blocked(tmp_path) / "rules.json"
    with pytest.raises(RulesNotSaved):
        book.remove(0)
    assert [rule.pattern for rule in book.rules] == ["pytest *"]
    assert [path.name for path in saved.parent.iterdir()] == [saved.name]  # no temp file


def test_session_store_that_cannot_be_created_keeps_the_run_going(tmp_path: Path) -> None:
    store = SessionStore(blocked(tmp_path) / "sessions.db")
    assert store.problem is not None
    assert store.problem.startswith("This run's history cannot be saved: ")
    assert "(a file stands where a folder should be); the run goes on without it." in (
        store.problem
    )
    store.create("s1", tmp_path, "m", "title")
    assert store.get("s1") is not None  # kept in memory for this run


def test_rules_command_on_a_read_only_home(repo: Path, bwrap: str, isolated_home: Path) -> None:
    """The user's report: `shipmate rules add` crashed with "internal error" there."""
    (isolated_home / ".config").mkdir(exist_ok=True)
    home = str(isolated_home)
    done = subprocess.run(
        [bwrap, "--bind", "/", "/", "--ro-bind", home, home, "--dev", "/dev", "--proc", "/proc",
         "--chdir", str(repo), "--", sys.executable, "-m", "agent", "rules", "add", "pytest *"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert done.returncode == 1
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert "cannot be written (the file system is read-only), so it was not added" in done.stderr
    assert str(isolated_home / ".config" / "shipmate" / "projects") in done.stderr
    assert "The rules saved before still apply, and runs work as before" in done.stderr
    assert run_cli("rules", cwd=repo).returncode == 0  # and nothing half-written is left


def test_a_run_on_a_read_only_home_works_without_its_history(
    llm: ScriptedLLM, repo: Path, bwrap: str, isolated_home: Path
) -> None:
    """Sessions, command logs, the index cache and the crash log all live under the home."""
    llm.add(
        Reply(calls=[tool("run_command", command="seq 1 300000")]),
        Reply(calls=[tool("write_file", path="notes.txt", content="ok\n")]),
        Reply(text="done"),
    )
    home = str(isolated_home)
    done = subprocess.run(
        [bwrap, "--bind", "/", "/", "--ro-bind", home, home, "--dev", "/dev", "--proc", "/proc",
         "--chdir", str(repo), "--", sys.executable, "-m", "agent", "run", "x",
         "--model", "scripted", "--api-base", llm.url, "--approval", "full-auto",
         "--output-format", "stream-json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["type"] == "result" and events[-1]["status"] == "success"
    notices = events[0]["notices"]
    assert [n for n in notices if "history" in n] == [
        f"This run's history cannot be saved: {home}/.local/share/shipmate/sessions.db cannot "
        "be written (the file system is read-only); the run goes on without it."
    ]
    assert "Traceback" not in done.stdout + done.stderr
    command_output = llm.requests[1]["messages"][-1]["content"]
    assert "[output cut; no full log was kept: " in command_output
    assert "cannot be written (the file system is read-only)]" in command_output
    assert "[exit code 0]" in command_output
    assert (repo / "notes.txt").read_text() == "ok\n"


async def test_a_store_that_fails_mid_run_is_said_once(llm: ScriptedLLM, ws: Path) -> None:
    """A disk that fills up during a run: the history stops, the run does not."""
    llm.add(
        Reply(calls=[tool("list_files")]),
        Reply(calls=[tool("list_files")]),
        Reply(text="done"),
    )
    agent = make_agent(llm, ws)
    events = []
    async for event in agent.send("x"):
        events.append(event)
        if event.type == "session_started":  # from here on every write is refused
            path = agent.store.path
            agent.store.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert events[0].notices == [n for n in events[0].notices if "history" not in n]
    told = [event for event in events if event.type == "error"]
    assert len(told) == 1 and not told[0].fatal
    assert told[0].message.startswith("This run's history is incomplete: ")
    assert "refused a write (attempt to write a readonly database)" in told[0].message
    assert events[-1].type == "result" and events[-1].status == "success"
