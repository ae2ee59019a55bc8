"""Auto-test through the loop: a scripted model edits a real pytest project, the real tests
run in the sandbox after its answer, and new failures come back to it as fix rounds."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from agent.config import ConfigError, load_settings
from agent.events import (
    ApprovalRequested,
    Error,
    Result,
    TestsFinished,
    ToolFinished,
)
from agent.frontends.headless import TextOutput
from agent.frontends.transcript import transcript

from helpers import git, make_agent
from scripted_llm import Reply, ScriptedLLM, tool

CALC = "def add(a, b):\n    return a + b\n"
TESTS = """from calc import add


def test_add():
    assert add(1, 2) == 3, "1 + 2 should be 3"
"""
OLD_TEST = """

def test_old():
    assert False, "broken long ago"
"""
BREAK = tool("edit_file", path="calc.py", old_text="a + b", new_text="a - b")
REPAIR = tool("edit_file", path="calc.py", old_text="a - b", new_text="a + b")


def touch(number: int):
    """An edit that changes the file without fixing anything."""
    old = "def add(a, b):"
    return tool("edit_file", path="calc.py", old_text=old, new_text=f"{old}  # attempt {number}")


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m pytest`` in the project finds this interpreter (which has pytest)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository whose one test passes."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


async def run(agent, task: str = "change add") -> list:
    return [event async for event in agent.send(task)]


def runs_of(events: list) -> list[TestsFinished]:
    return [event for event in events if isinstance(event, TestsFinished)]


async def test_a_fix_round_that_fixes_the_tests_succeeds(llm: ScriptedLLM, project: Path) -> None:
    (project / "test_calc.py").write_text(TESTS + OLD_TEST)  # one test failed all along
    llm.add(
        Reply(calls=[BREAK]),
        Reply(text="Done."),
        Reply(calls=[REPAIR]),
        Reply(text="Fixed: add adds again."),
    )
    agent = make_agent(llm, project, auto_test=True)
    events = await run(agent)
    result = events[-1]
    assert isinstance(result, Result)
    assert result.status == "success", result.error
    assert result.result == "Fixed: add adds again."
    baseline, broken, fixed = runs_of(events)
    assert baseline.baseline and baseline.auto_test
    assert baseline.summary.startswith("1 failed, 1 passed in ")
    assert [(f.test_id, f.pre_existing) for f in baseline.failures] == [
        ("test_calc.py::test_old", True)
    ]
    assert not broken.baseline and broken.summary.startswith("2 failed in ")
    assert {(f.test_id, f.pre_existing) for f in broken.failures} == {
        ("test_calc.py::test_add", False),
        ("test_calc.py::test_old", True),
    }
    # The baseline ran before the first edit did; the failures went back as a user message.
    first_edit = next(e for e in events if isinstance(e, ToolFinished))
    assert events.index(baseline) < events.index(first_edit)
    follow_up = llm.requests[2]["messages"][-1]
    assert follow_up["role"] == "user"
    assert "fix round 1 of 3" in follow_up["content"]
    assert "FAILED test_calc.py::test_add" in follow_up["content"]
    assert "AssertionError: 1 + 2 should be 3" in follow_up["content"]
    assert "before your first edit as well" in follow_up["content"]
    assert "test_calc.py::test_old" in follow_up["content"]
    assert fixed.summary.startswith("1 failed, 1 passed in ")
    assert result.auto_test is not None and result.auto_test.rounds == 1
    assert [(f.test_id, f.pre_existing) for f in result.auto_test.failing] == [
        ("test_calc.py::test_old", True)
    ]
    assert len(llm.requests) == 4


async def test_it_stops_after_the_rounds_and_says_what_still_fails(
    llm: ScriptedLLM, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    llm.add(
        Reply(calls=[BREAK]),
        Reply(text="Done."),
        Reply(calls=[touch(1)]),
        Reply(text="Tried."),
        Reply(calls=[touch(2)]),
        Reply(text="Tried again."),
    )
    agent = make_agent(llm, project, auto_test=True, auto_test_rounds=2)
    events = await run(agent)
    result = events[-1]
    assert result.status == "failed"
    assert result.error == (
        "The tests still fail after 2 auto-test fix rounds (python -m pytest): "
        "test_calc.py::test_add."
    )
    assert any(isinstance(e, Error) and e.message == result.error for e in events)
    assert len(runs_of(events)) == 4  # before the first edit, then after each answer
    assert len(llm.requests) == 6
    assert "fix round 2 of 2" in llm.requests[4]["messages"][-1]["content"]
    assert result.auto_test.rounds == 2
    assert [f.test_id for f in result.auto_test.failing] == ["test_calc.py::test_add"]
    text = TextOutput(sys.stdout, sys.stderr)
    for event in events:
        text.show(event)
    err = capsys.readouterr().err
    assert "→ auto-test (after the changes): python -m pytest" in err
    assert "still failing: test_calc.py::test_add" in err
    lines = transcript(agent.store.get(agent.session_id), agent.store.events(agent.session_id))
    assert sum(line.startswith("  auto-test · ") for line in lines) == 4


async def test_a_fix_round_that_changes_nothing_ends_the_loop(
    llm: ScriptedLLM, project: Path
) -> None:
    llm.add(Reply(calls=[BREAK]), Reply(text="Done."), Reply(text="It is fine as it is."))
    agent = make_agent(llm, project, auto_test=True)
    events = await run(agent)
    assert events[-1].status == "failed"
    assert events[-1].error.startswith("The tests still fail after 1 auto-test fix round ")
    assert len(runs_of(events)) == 2  # nothing changed, so nothing ran again
    assert len(llm.requests) == 3


async def test_pre_existing_failures_are_named_not_sent_back(
    llm: ScriptedLLM, project: Path
) -> None:
    (project / "test_calc.py").write_text(TESTS + OLD_TEST)
    llm.add(
        Reply(calls=[tool("edit_file", path="calc.py", old_text="a + b", new_text="b + a")]),
        Reply(text="Swapped."),
    )
    agent = make_agent(llm, project, auto_test=True)
    events = await run(agent)
    result = events[-1]
    assert result.status == "success"
    assert len(llm.requests) == 2  # no fix round
    after = runs_of(events)[-1]
    assert after.failures[0].test_id == "test_calc.py::test_old"
    assert after.failures[0].pre_existing
    assert after.failures[0].message == "AssertionError: broken long ago"
    assert [(f.test_id, f.pre_existing) for f in result.auto_test.failing] == [
        ("test_calc.py::test_old", True)
    ]


async def test_off_by_default_and_quiet_without_changes(llm: ScriptedLLM, project: Path) -> None:
    llm.add(Reply(calls=[BREAK]), Reply(text="Done."))
    events = await run(make_agent(llm, project))
    assert events[-1].status == "success" and not runs_of(events)
    assert events[-1].auto_test is None
    llm.add(Reply(calls=[tool("read_file", path="calc.py")]), Reply(text="Read it."))
    events = await run(make_agent(llm, project, auto_test=True), "what does add do?")
    assert events[-1].status == "success" and not runs_of(events)


async def test_refused_runs_are_said_once(llm: ScriptedLLM, project: Path) -> None:
    """auto-edit edits without asking, but asks before commands: one-shot runs refuse."""
    llm.add(Reply(calls=[BREAK]), Reply(text="Done."))
    agent = make_agent(llm, project, approval="auto-edit", auto_test=True)
    events = await run(agent)
    result = events[-1]
    assert result.status == "success"
    asked = [e for e in events if isinstance(e, ApprovalRequested)]
    assert [(a.name, a.summary) for a in asked] == [("run_tests", "run_tests: python -m pytest")]
    said = [e for e in events if isinstance(e, Error)]
    assert len(said) == 1 and not said[0].fatal
    assert said[0].message == (
        "Auto-test did not run the tests: python -m pytest needs approval and was refused, "
        "so auto-test is off for the rest of this session."
    )
    assert [(d.tool, d.refusal) for d in result.permission_denials] == [
        ("run_tests", "needs_approval")
    ]
    assert result.permission_denials[0].suggestion == "allow command python -m pytest *"
    assert not runs_of(events)
    llm.add(Reply(calls=[REPAIR]), Reply(text="Back."))
    again = await run(agent, "undo that")
    assert not [e for e in again if isinstance(e, Error | ApprovalRequested)]


async def test_the_turn_budget_still_holds(llm: ScriptedLLM, project: Path) -> None:
    llm.add(Reply(calls=[BREAK]), Reply(text="Done."))
    agent = make_agent(llm, project, auto_test=True, max_turns=2)
    events = await run(agent)
    result = events[-1]
    assert result.status == "budget_exceeded"
    assert [f.test_id for f in result.auto_test.failing] == ["test_calc.py::test_add"]
    assert len(llm.requests) == 2


async def test_cancelling_stops_a_running_auto_test(llm: ScriptedLLM, project: Path) -> None:
    (project / "test_slow.py").write_text(
        "import os, time\n\n\ndef test_slow():\n"
        "    if os.path.exists('slow'):\n"
        "        open('started', 'w').close()\n"
        "        time.sleep(40)\n"
    )
    llm.add(
        Reply(calls=[tool("write_file", path="slow", content="yes\n")]),
        Reply(text="Done."),
    )
    agent = make_agent(llm, project, auto_test=True)
    task = asyncio.create_task(run(agent))
    for _ in range(400):
        if (project / "started").exists():
            break
        await asyncio.sleep(0.05)
    assert (project / "started").exists()
    agent.cancel()
    events = await asyncio.wait_for(task, 10)
    assert events[-1].status == "cancelled"
    assert len(runs_of(events)) == 1  # the baseline; the run after the answer was killed


async def test_run_tests_calls_give_a_test_event(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(calls=[tool("run_tests", keyword="unicode")]), Reply(text="seen"))
    events = await run(make_agent(llm, repo), "run the tests")
    finished = next(e for e in events if isinstance(e, ToolFinished))
    (test,) = runs_of(events)
    assert events.index(test) == events.index(finished) + 1
    assert test.call_id == finished.call_id
    assert not test.auto_test
    assert test.command == "python -m pytest -k unicode"
    assert test.counts == {"failed": 1}
    assert test.summary == finished.summary
    assert test.failures[0].test_id == "test_textutil.py::test_unicode"
    assert test.failures[0].kind == "failed"
    assert test.exit_code == 1 and test.log and Path(test.log).is_file()


def test_a_project_may_lower_the_rounds_only(
    ws: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws / ".shipmate.toml").write_text("auto_test_rounds = 1\n")
    assert load_settings(ws).auto_test_rounds == 1
    (ws / ".shipmate.toml").write_text("auto_test_rounds = 9\n")
    settings = load_settings(ws)
    assert settings.auto_test_rounds == 3
    assert "auto_test_rounds = 9 (yours: 3)" in settings.notices[0]
    (ws / ".shipmate.toml").write_text("auto_test = true\n")
    with pytest.raises(ConfigError, match="may not set auto_test"):
        load_settings(ws)
    (ws / ".shipmate.toml").unlink()
    monkeypatch.setenv("SHIPMATE_AUTO_TEST", "true")
    assert load_settings(ws).auto_test
    assert load_settings(ws, {"auto_test": False}).auto_test is False
