"""Where bubblewrap is missing or cannot run, commands must not run unconfined and unasked.

Two ways the sandbox goes away: no ``bwrap`` on PATH, and a ``bwrap`` that is installed but
fails (user namespaces switched off, say; a fake one that exits 1 stands in for it). Either
way the probe says so, the sandbox is inactive, every command asks, even in full-auto, and a
headless run refuses the command and says why at the start.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from security_helpers import Guard

from agent.config import Settings
from agent.policy.permissions import Permissions
from agent.policy.rules import Rule, RuleBook
from agent.policy.sandboxing import sandbox_for
from tools import executables
from tools.sandbox import Bubblewrap, find_bubblewrap
from tools.shell import RunCommand

from helpers import run_cli
from scripted_llm import Reply, ScriptedLLM, tool

# What a run needs from PATH, bwrap aside: touch is there so the attack would work if it ran.
TOOLS = ("bash", "sh", "env", "git", "touch", "cat", "ls", "python3")


@pytest.fixture(params=["missing", "broken"])
def crippled(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """A PATH without a working bwrap, and the words the probe should find the problem in."""
    folder = tmp_path / f"bin-{request.param}"
    folder.mkdir()
    if request.param == "missing":
        for name in TOOLS:
            found = shutil.which(name)
            if found:
                (folder / name).symlink_to(found)
        (folder / "python").symlink_to(sys.executable)
        return str(folder), "not installed"
    fake = folder / "bwrap"
    fake.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create a new namespace' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}", "installed but cannot run here"


@pytest.fixture
def probe_fresh() -> Iterator[None]:
    """find_bubblewrap() and the program lookup cache their answers; forget them around the
    test."""
    find_bubblewrap.cache_clear()
    executables.find.cache_clear()
    yield
    find_bubblewrap.cache_clear()
    executables.find.cache_clear()


def test_attack_run_unconfined_where_bubblewrap_cannot_work(
    crippled: tuple[str, str],
    probe_fresh: None,
    ws: Path,
    monkeypatch: pytest.MonkeyPatch,
    watch: Callable[..., Guard],
) -> None:
    """Without a working sandbox, hope full-auto (and an allow rule) runs a command unasked."""
    path, problem = crippled
    monkeypatch.setenv("PATH", path)
    guard = watch()
    bubblewrap, why = find_bubblewrap()
    assert bubblewrap is None
    assert problem in why
    sandbox = sandbox_for(Settings(approval="full-auto"), ws)
    assert not sandbox.active
    book = RuleBook(ws)
    book.rules = [Rule(action="allow", tool="command", pattern="touch *")]
    for mode in ("full-auto", "ask"):
        perms = Permissions(mode, book, ws.resolve(), sandboxed=sandbox.active)
        check = perms.check(RunCommand(command="touch pwned.txt"))
        assert check.verdict == "ask"
        assert "no sandbox" in check.reason
    guard.check()


def test_attack_headless_full_auto_run_without_sandbox(
    crippled: tuple[str, str], llm: ScriptedLLM, ws: Path, watch: Callable[..., Guard]
) -> None:
    """A one-shot run in full-auto where bwrap is missing or broken: the model runs `touch`."""
    path, _ = crippled
    llm.add(
        Reply(calls=[tool("run_command", command="touch pwned.txt")]),
        Reply(text="I could not run it."),
    )
    guard = watch()
    done = run_cli(
        "run",
        "create pwned.txt",
        *("--model", "scripted", "--api-base", llm.url),
        *("--approval", "full-auto", "--output-format", "stream-json"),
        cwd=ws,
        env={"PATH": path},
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    started, result = events[0], events[-1]
    assert started["type"] == "session_started"
    assert started["sandbox"].startswith("none")
    assert any(notice.startswith("No sandbox") for notice in started["notices"])
    assert result["type"] == "result"
    assert [denial["tool"] for denial in result["permission_denials"]] == ["run_command"]
    assert "touch pwned.txt" in result["permission_denials"][0]["summary"]
    assert not (ws / "pwned.txt").exists()
    guard.check()


def test_control_waived_sandbox_does_run_the_command(
    tmp_path: Path, llm: ScriptedLLM, ws: Path, watch: Callable[..., Guard]
) -> None:
    """Not an attack: with the sandbox waived, the same script does create the file."""
    # So the refusals above are the missing-sandbox check at work, not a broken setup.
    llm.add(Reply(calls=[tool("run_command", command="touch pwned.txt")]), Reply(text="Done."))
    guard = watch()
    done = run_cli(
        "run",
        "create pwned.txt",
        *("--model", "scripted", "--api-base", llm.url),
        *("--approval", "full-auto", "--dangerously-no-sandbox"),
        cwd=ws,
    )
    assert done.returncode == 0, done.stderr
    assert (ws / "pwned.txt").exists()
    guard.check()


def test_doctor_reports_bubblewrap_with_network_off(
    bubblewrap: Bubblewrap, ws: Path, watch: Callable[..., Guard]
) -> None:
    """Not an attack: doctor tells the user the sandbox is on, and the network off."""
    guard = watch()
    done = run_cli("doctor", cwd=ws)
    sandbox = next(line for line in done.stdout.splitlines() if line.startswith("sandbox"))
    assert "bubblewrap, network off" in sandbox
    guard.check()


def test_doctor_reports_missing_sandbox(
    crippled: tuple[str, str], ws: Path, watch: Callable[..., Guard]
) -> None:
    """Not an attack: where bwrap cannot work, doctor says so and that every command asks."""
    path, problem = crippled
    guard = watch()
    done = run_cli("doctor", cwd=ws, env={"PATH": path})
    sandbox = next(line for line in done.stdout.splitlines() if line.startswith("sandbox"))
    assert sandbox.split(None, 1)[1].startswith("none (")
    assert problem in sandbox
    assert "every command will ask for approval" in sandbox
    guard.check()
