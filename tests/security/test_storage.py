"""What Shipmate keeps on disk is bounded, and private to the user.

A runaway model reply or command output must not fill memory, the session database or the
logs folder; sessions, logs, the index, rules and the crash log hold code and commands, so
they are created 0600 in 0700 folders whatever the umask, and loose ones are tightened.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from agent import cli
from agent.config import Settings, data_dir
from agent.frontends.headless import RunOptions, run_task
from agent.index.store import Store
from agent.index.store import default_path as index_path
from agent.llm import MAX_REPLY_CHARS
from agent.policy.rules import Rule, RuleBook, rules_path
from agent.session import SessionStore
from agent.terminal import visible
from tools.base import ToolContext
from tools.process import LOG_HEAD, LOG_TAIL, LOGS_MAX_BYTES, LOGS_MAX_FILES, run_shell
from tools.shell import RunCommand

from helpers import REPO_ROOT, run_cli
from scripted_llm import Reply, ScriptedLLM, tool

MB = 1024 * 1024
SESSION = "0123456789abcdef0123456789abcdef"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def model_flags(llm: ScriptedLLM) -> list[str]:
    return ["--model", "scripted", "--api-base", llm.url]


HUGE = 2 * MAX_REPLY_CHARS


def words(size: int) -> str:
    """``size`` characters of text that never repeats (litellm stops a stream that does)."""
    return "".join(f"w{i} " for i in range(size // 7))[:size]


def run_measured(*args: str, cwd: Path, figure: Path) -> subprocess.CompletedProcess[str]:
    """``shipmate ARGS`` started by a small Python parent that writes its child's peak RSS
    (kB) to ``figure``. Measured from pytest, RUSAGE_CHILDREN would count pytest's own
    pages: a child's peak includes what it shared with its parent before exec."""
    parent = (
        "import os, resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "open(os.environ['PEAK_FILE'], 'w').write(str(peak))\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", parent, sys.executable, "-m", "agent", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PEAK_FILE": str(figure)},
        capture_output=True,
        text=True,
        timeout=180,
    )


def database_size() -> int:
    base = data_dir() / "sessions.db"
    return sum(p.stat().st_size for p in (base, Path(f"{base}-wal")) if p.exists())


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """Whatever Shipmate creates would be world-writable if it left modes to the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --- a reply too large -------------------------------------------------------------------------


async def test_attack_huge_model_reply(llm: ScriptedLLM, repo: Path, tmp_path: Path) -> None:
    """The model (or a server gone wrong) streams a huge reply (the review's was 40 MB; twice
    the limit is enough to prove it is cut), to fill memory and the session database. The
    reply is cut off at MAX_REPLY_CHARS and the run fails cleanly."""
    llm.add(Reply(text="ok"))
    small = run_measured("run", "x", *model_flags(llm), cwd=repo, figure=tmp_path / "small")
    assert small.returncode == 0, small.stderr
    before = database_size()
    llm.add(Reply(text=words(HUGE), chunk=64 * 1024))
    done = run_measured("run", "x", *model_flags(llm), cwd=repo, figure=tmp_path / "huge")
    assert done.returncode == 1, done.stderr
    assert "error: The reply was too large" in done.stderr
    assert "cut off" in done.stderr and "Traceback" not in done.stderr
    assert len(llm.requests) == 2  # cut off once, not retried
    baseline = int((tmp_path / "small").read_text()) / 1024
    peak = int((tmp_path / "huge").read_text()) / 1024
    print(f"peak RSS: {baseline:.0f} MB for a 2-character reply, {peak:.0f} MB for {HUGE:,}")
    assert peak < baseline + 100, f"{peak:.0f} MB at the peak (baseline {baseline:.0f} MB)"
    assert database_size() - before < 1 * MB

    # stream-json's events: the same run in-process (another process costs seconds).
    llm.add(Reply(text=words(HUGE), chunk=64 * 1024))
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url)
    assert await run_task("x", settings, repo, RunOptions(output="stream-json"), out, err) == 1
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    streamed = sum(len(e["text"]) for e in events if e["type"] == "text_delta")
    assert streamed <= MAX_REPLY_CHARS
    error = next(e for e in events if e["type"] == "error")
    assert "too large" in error["message"] and "cut off" in error["message"]
    assert events[-1]["status"] == "failed"


def test_attack_long_reply_under_the_limit_is_stored_bounded(llm: ScriptedLLM, repo: Path) -> None:
    """A 3.5 MB answer is allowed and printed whole, but each stored record keeps at most
    MAX_STORED_CHARS of text: the database grows by well under a megabyte, not 14."""
    answer = words(3_500_000)
    llm.add(Reply(text=answer, chunk=64 * 1024))
    done = run_cli("run", "x", *model_flags(llm), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip("\n") == answer.rstrip()
    assert database_size() < 1.5 * MB
    db = sqlite3.connect(data_dir() / "sessions.db")
    for (data,) in db.execute("SELECT data FROM messages UNION ALL SELECT data FROM events"):
        record = json.loads(data)  # every stored record is still valid JSON
        assert len(data) < 250_000
        if answer[:100] in data:
            assert "characters cut]" in data, record.keys()
    (result,) = db.execute("SELECT result FROM sessions").fetchone()
    assert json.loads(result)["status"] == "success"


# --- command logs ------------------------------------------------------------------------------


async def test_attack_flood_the_command_log(ctx: ToolContext) -> None:
    """A command prints 30 MB to fill the disk through its log: the log keeps the first and
    last few MB, says what it cut, and the model is still told where it is."""
    ctx.sandbox = None
    ctx.log_dir = data_dir() / "logs" / SESSION
    command = "echo FIRST; head -c 30000000 /dev/zero | tr '\\0' x; echo; echo LAST"
    result = await RunCommand(command=command).run(ctx)
    log = Path(result.output.split("2 MB) is in ")[1].split("]")[0])
    assert log.parent == ctx.log_dir
    assert log.stat().st_size < LOG_HEAD + LOG_TAIL + 1000
    data = log.read_bytes()
    assert data.startswith(b"FIRST\nxxx") and data.endswith(b"xxx\nLAST\n")
    assert b"bytes cut here: a log keeps the first 2,097,152 and the last 2,097,152" in data
    assert (mode(log), mode(log.parent), mode(log.parent.parent)) == (0o600, 0o700, 0o700)


def old_log(folder: Path, name: str, size: int, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"command-{name}.log"
    path.write_bytes(b"")
    os.truncate(path, size)  # sparse: no disk used
    when = time.time() - age
    os.utime(path, (when, when))
    os.utime(folder, (when, when))
    return path


async def test_attack_fill_the_logs_folder(ctx: ToolContext) -> None:
    """Many commands over many sessions leave logs behind until the disk is full: when a new
    log is kept, the oldest go past LOGS_MAX_FILES files or LOGS_MAX_BYTES, and the session
    folders they leave empty go too."""
    ctx.sandbox = None
    logs = data_dir() / "logs"
    ctx.log_dir = logs / SESSION
    many = [old_log(logs / ("a" * 32), f"tiny{i:03}", 10, 5000 - i) for i in range(250)]
    idle = logs / ("b" * 32)
    idle.mkdir()
    os.utime(idle, (time.time() - 600, time.time() - 600))
    flood = "head -c 5000000 /dev/zero | tr '\\0' x"
    first = await RunCommand(command=flood).run(ctx)
    assert "the log (first and last 2 MB) is in" in first.output
    kept = [p for p in many if p.exists()]
    assert len(kept) == LOGS_MAX_FILES - 1 and kept == many[-len(kept) :]  # the newest stay
    assert not idle.exists()  # an empty session folder, idle for minutes

    big = [old_log(logs / (f"{i}" * 32), "big", 100 * MB, 1000 + i) for i in range(3)]
    await RunCommand(command=flood).run(ctx)
    remaining = list(logs.glob("*/command-*.log"))
    assert sum(p.stat().st_size for p in remaining) <= LOGS_MAX_BYTES
    assert len(remaining) <= LOGS_MAX_FILES
    assert [p.exists() for p in big] == [True, False, False]
    assert not any(p.exists() for p in many)
    assert sorted(p.name for p in logs.iterdir()) == ["0" * 32, SESSION]


# --- private files ------------------------------------------------------------------------------


def shipmate_files(workspace: Path) -> dict[Path, int]:
    """Every file and folder Shipmate keeps, with the mode it must have."""
    data = data_dir()
    logs = list((data / "logs").glob("*/command-*.log"))
    assert logs, "the run should have kept a command log"
    expected = {data: 0o700, data / "logs": 0o700, logs[0].parent: 0o700, logs[0]: 0o600}
    for suffix in ("", "-wal", "-shm"):
        for database in (data / "sessions.db", index_path()):
            path = Path(f"{database}{suffix}")
            if suffix == "" or path.exists():
                expected[path] = 0o600
    rules = rules_path(workspace)
    return expected | {index_path().parent: 0o700, rules.parent: 0o700, rules: 0o600}


def run_flooding_command(llm: ScriptedLLM, repo: Path) -> None:
    """A run that indexes the repository, stores a session and keeps a command log; then a
    rule is added."""
    flood = "head -c 100000 /dev/zero | tr '\\0' x"
    llm.add(Reply(calls=[tool("run_command", command=flood)]), Reply(text="done"))
    flags = ["--approval", "full-auto", "--dangerously-no-sandbox"]
    done = run_cli("run", "x", *model_flags(llm), *flags, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert run_cli("rules", "add", "pytest *", cwd=repo).returncode == 0


def test_attack_read_sessions_logs_index_and_rules_of_another_user(
    llm: ScriptedLLM, repo: Path, umask_zero: None
) -> None:
    """Another user on the machine reads (or rewrites) the sessions, logs, index and rules:
    with a umask of 0 everything would be 0666 or 0777; Shipmate makes them 0600 and 0700."""
    run_flooding_command(llm, repo)
    expected = shipmate_files(repo) | {platformdirs.user_config_path("shipmate"): 0o700}
    assert {str(p): oct(mode(p)) for p in expected} == {str(p): oct(m) for p, m in expected.items()}


def test_loose_files_from_before_are_tightened(llm: ScriptedLLM, repo: Path) -> None:
    """Folders and files an older version created world-readable are made private when
    Shipmate opens them again."""
    data = data_dir()
    loose = [data, data / "logs", index_path().parent, rules_path(repo).parent]
    for folder in loose:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    for path in (data / "sessions.db", index_path()):
        path.touch()
        path.chmod(0o644)
    run_flooding_command(llm, repo)
    for path, want in shipmate_files(repo).items():
        assert mode(path) == want, path


async def test_private_from_the_first_moment(
    ws: Path, umask_zero: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No window where a new file is readable by others: with chmod disabled and a umask of
    0, every file and folder is still created private (the mode is given at creation)."""
    fixed: list[object] = []
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: fixed.append(args))
    monkeypatch.setattr(os, "fchmod", lambda *args, **kwargs: fixed.append(args))
    sessions = SessionStore(data_dir() / "sessions.db")
    sessions.create("s", ws, "model", "title")  # writes: -wal and -shm now exist
    index = Store()
    index.save(index.repo_id(ws), {}, [], {"h": b"x"})
    RuleBook(ws).add(Rule(action="allow", tool="command", pattern="pytest *"))
    logs = data_dir() / "logs" / SESSION
    flood = "head -c 100000 /dev/zero"
    outcome = await run_shell(flood, ws, timeout=10, output_limit=1000, log_dir=logs)
    try:
        raise RuntimeError("crash")
    except RuntimeError:
        crash = cli._crash_log()
    databases = [
        Path(f"{db}{end}") for db in (sessions.path, index.path) for end in ("", "-wal", "-shm")
    ]
    created = [
        *databases,
        rules_path(ws),
        outcome.log_path,
        crash,
    ]
    folders = [data_dir(), logs.parent, logs, index.path.parent, rules_path(ws).parent]
    assert {str(p): oct(mode(p)) for p in created} == {str(p): "0o600" for p in created}
    assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert fixed == []
    sessions.close()
    index.close()


def test_crash_log_is_private_bounded_and_inert(isolated_home: Path) -> None:
    """The crash log quotes what failed, which may be a model's text: it is rotated past
    1 MB, private, and shows control characters as text."""
    folder = data_dir() / "logs"
    folder.mkdir(parents=True)
    old = folder / "crash.log"
    old.write_bytes(b"old\n" * 300_000)
    old.chmod(0o644)
    try:
        raise RuntimeError("the model said \x1b]52;c;ZXZpbA==\x07")
    except RuntimeError:
        path = cli._crash_log()
    assert path == old
    assert (folder / "crash.log.1").read_bytes() == b"old\n" * 300_000
    assert mode(folder / "crash.log.1") == 0o600 and mode(path) == 0o600
    text = path.read_text()
    assert "RuntimeError: the model said \\x1b]52;c;ZXZpbA==\\x07" in text
    assert text == visible(text)


def test_attack_a_record_of_many_short_strings() -> None:
    """A plan of 3,900 steps of 1,000 characters: no string is long, but together they are
    4 MB. The stored record stays bounded, and still reads back as a plan."""
    from agent.events import PlanItem, PlanUpdated
    from agent.session import MAX_STORED_CHARS, _stored

    event = PlanUpdated(items=[PlanItem(step=f"{n:04} " + "x" * 995) for n in range(3900)])
    stored = _stored(event.model_dump(mode="json"))
    assert len(stored) < MAX_STORED_CHARS + 10_000
    back = PlanUpdated.model_validate(json.loads(stored))
    assert back.items[0].step.startswith("0000 ") and len(back.items) < 3900
