"""run_command and run_shell with real bash: exit codes, output, timeouts, process cleanup."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.process import run_shell
from tools.shell import RunCommand


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs; a killed child waiting to be reaped (a zombie) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_dead(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


async def read_pid(path: Path, seconds: float = 5.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} was never written")


@pytest.fixture
def spawned() -> list[int]:
    """Pids a test learned about; any still alive at the end are killed so none leak."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, 9)


# --- exit codes and output --------------------------------------------------------------------


async def test_success_reports_exit_code_zero(ctx: ToolContext) -> None:
    result = await RunCommand(command="echo hello").run(ctx)
    assert result.output == "hello\n[exit code 0]"
    assert not result.is_error
    assert result.summary.startswith("exit 0 in ")


async def test_nonzero_exit_is_error(ctx: ToolContext) -> None:
    result = await RunCommand(command="echo failing; exit 3").run(ctx)
    assert result.output == "failing\n[exit code 3]"
    assert result.is_error
    assert result.summary.startswith("exit 3 in ")


async def test_exit_code_of_failing_program(ctx: ToolContext) -> None:
    result = await RunCommand(command="ls /definitely/not/here").run(ctx)
    assert result.is_error
    assert "[exit code 2]" in result.output
    assert "No such file or directory" in result.output


async def test_stderr_is_merged_in_order(ctx: ToolContext) -> None:
    result = await RunCommand(command="echo out1; echo err1 >&2; echo out2; echo err2 >&2").run(ctx)
    assert result.output == "out1\nerr1\nout2\nerr2\n[exit code 0]"


async def test_no_output(ctx: ToolContext) -> None:
    result = await RunCommand(command="true").run(ctx)
    assert result.output == "(no output)\n[exit code 0]"


async def test_empty_command_refused(ctx: ToolContext) -> None:
    for command in ("", "   ", "\n\t"):
        with pytest.raises(ToolError, match="empty"):
            await RunCommand(command=command).run(ctx)


async def test_runs_in_workspace(ctx: ToolContext, ws: Path) -> None:
    (ws / "marker.txt").write_text("i am in the workspace\n")
    result = await RunCommand(command="pwd -P; cat marker.txt").run(ctx)
    assert result.output == f"{ctx.workspace}\ni am in the workspace\n[exit code 0]"


async def test_stdin_is_closed(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await RunCommand(command='read line; echo "read rc=$?"', timeout=10).run(ctx)
    assert "read rc=1" in result.output
    assert time.monotonic() - started < 5


async def test_environment_has_no_pager_or_prompt(ctx: ToolContext) -> None:
    result = await RunCommand(command='echo "$PAGER $GIT_PAGER $TERM $GIT_TERMINAL_PROMPT"').run(
        ctx
    )
    assert result.output.splitlines()[0] == "cat cat dumb 0"


async def test_ansi_codes_stripped(ctx: ToolContext) -> None:
    command = r"printf '\033[1;31mred\033[0m plain \033[2K\033[?25lx\033]0;title\007done\n'"
    result = await RunCommand(command=command).run(ctx)
    assert result.output.splitlines()[0] == "red plain xdone"
    assert "\x1b" not in result.output


async def test_crlf_output_normalised(ctx: ToolContext) -> None:
    result = await RunCommand(command=r"printf 'a\r\nb\r\n'").run(ctx)
    assert result.output == "a\nb\n[exit code 0]"


# --- timeouts and process cleanup -------------------------------------------------------------


async def test_timeout_kills_command_and_children(
    ctx: ToolContext, ws: Path, spawned: list[int]
) -> None:
    started = time.monotonic()
    result = await RunCommand(
        command="sleep 30 & echo $! > child.pid; echo started; sleep 30", timeout=1
    ).run(ctx)
    elapsed = time.monotonic() - started
    child = int((ws / "child.pid").read_text())
    spawned.append(child)
    assert elapsed < 5
    assert result.is_error
    assert "started" in result.output
    assert "[timed out after 1 s; the command and its children were killed]" in result.output
    assert "exit code" not in result.output
    assert result.summary == "timed out after 1 s"
    assert wait_dead(child), f"background child {child} survived the timeout"


async def test_run_shell_timeout_outcome(ws: Path, logs: Path, spawned: list[int]) -> None:
    outcome = await run_shell(
        "echo $$ > leader.pid; sleep 30", ws, timeout=0.5, output_limit=1000, log_dir=logs
    )
    leader = int((ws / "leader.pid").read_text())
    spawned.append(leader)
    assert outcome.timed_out
    assert outcome.exit_code is None
    assert outcome.seconds < 5
    assert wait_dead(leader)


async def test_default_timeout_comes_from_context(ws: Path, logs: Path) -> None:
    ctx = ToolContext(workspace=ws, log_dir=logs, command_timeout=0.5)
    started = time.monotonic()
    result = await RunCommand(command="sleep 30").run(ctx)
    assert time.monotonic() - started < 5
    assert "[timed out after 0.5 s" in result.output


async def test_background_process_killed_after_normal_exit(
    ctx: ToolContext, ws: Path, spawned: list[int]
) -> None:
    started = time.monotonic()
    result = await RunCommand(command="(sleep 60 & echo $! > bg.pid); echo done").run(ctx)
    bg = int((ws / "bg.pid").read_text())
    spawned.append(bg)
    assert time.monotonic() - started < 5
    assert result.output == "done\n[exit code 0]"
    assert not result.is_error
    assert wait_dead(bg), f"background process {bg} outlived the command"


async def test_background_process_holding_stdout_does_not_hang(
    ctx: ToolContext, ws: Path, spawned: list[int]
) -> None:
    started = time.monotonic()
    result = await RunCommand(command="sleep 60 & echo $! > bg.pid; echo quick", timeout=30).run(
        ctx
    )
    spawned.append(int((ws / "bg.pid").read_text()))
    assert time.monotonic() - started < 5
    assert result.output == "quick\n[exit code 0]"
    assert wait_dead(spawned[0])


async def test_cancellation_kills_process_group_promptly(
    ws: Path, logs: Path, spawned: list[int]
) -> None:
    task = asyncio.create_task(
        run_shell(
            "sleep 30 & echo $! > child.pid; echo $$ > leader.pid; wait",
            ws,
            timeout=60,
            output_limit=1000,
            log_dir=logs,
        )
    )
    child = await read_pid(ws / "child.pid")
    leader = await read_pid(ws / "leader.pid")
    spawned += [child, leader]
    assert alive(child) and alive(leader)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 3
    assert wait_dead(leader), "the shell survived cancellation"
    assert wait_dead(child), "the shell's child survived cancellation"


# --- output capping ---------------------------------------------------------------------------


async def test_huge_output_keeps_head_and_tail_and_full_log(ctx: ToolContext, logs: Path) -> None:
    body = 5_000_000
    command = "echo FIRST_MARKER; head -c 5000000 /dev/zero | tr '\\0' 'x'; echo; echo LAST_MARKER"
    result = await RunCommand(command=command).run(ctx)
    total = len("FIRST_MARKER\n") + body + 1 + len("LAST_MARKER\n")

    assert result.output.startswith("FIRST_MARKER\n")
    assert "LAST_MARKER\n" in result.output
    assert result.output.endswith("[exit code 0]")
    assert not result.is_error
    assert len(result.output) < ctx.output_limit + 1000

    half = ctx.output_limit // 2
    assert f"… [{total - 2 * half:,} bytes of output cut] …" in result.output

    found = re.search(r"\[output cut; the log \(first and last 2 MB\) is in (.+)\]", result.output)
    assert found, result.output[-500:]
    log = Path(found.group(1))
    assert log.parent == logs
    assert log.stat().st_size < total  # the log keeps the head and the tail, not everything
    data = log.read_bytes()
    assert b"bytes cut here" in data
    assert data.startswith(b"FIRST_MARKER\nxxx")
    assert data.endswith(b"xxx\nLAST_MARKER\n")


async def test_run_shell_output_limit_and_log(ws: Path, logs: Path) -> None:
    outcome = await run_shell("seq 1 100000", ws, timeout=30, output_limit=2000, log_dir=logs)
    assert outcome.truncated
    assert outcome.exit_code == 0
    assert outcome.output.startswith("1\n2\n3\n")
    assert outcome.output.endswith("99999\n100000\n")
    assert "bytes of output cut" in outcome.output
    assert outcome.log_path is not None
    expected = "".join(f"{n}\n" for n in range(1, 100_001))
    assert outcome.log_path.read_text() == expected


async def test_small_output_not_cut_and_no_log_kept(ws: Path, logs: Path) -> None:
    outcome = await run_shell("seq 1 5", ws, timeout=30, output_limit=2000, log_dir=logs)
    assert outcome.output == "1\n2\n3\n4\n5\n"
    assert not outcome.truncated
    assert outcome.log_path is None
    assert list(logs.iterdir()) == []


async def test_output_just_over_limit_is_cut(ws: Path, logs: Path) -> None:
    # 1.5x the budget: everything fits in head + a tail buffer that is not yet trimmed.
    outcome = await run_shell(
        "head -c 1500 /dev/zero | tr '\\0' 'a'", ws, timeout=30, output_limit=1000, log_dir=logs
    )
    assert outcome.truncated
    assert outcome.output == "a" * 500 + "\n… [500 bytes of output cut] …\n" + "a" * 500
    assert outcome.log_path is not None
    assert outcome.log_path.stat().st_size == 1500


async def test_output_exactly_at_limit_is_kept_whole(ws: Path, logs: Path) -> None:
    outcome = await run_shell(
        "head -c 1000 /dev/zero | tr '\\0' 'b'", ws, timeout=30, output_limit=1000, log_dir=logs
    )
    assert not outcome.truncated
    assert outcome.output == "b" * 1000


async def test_process_escaping_the_group_does_not_block_the_call(
    ctx: ToolContext, ws: Path, spawned: list[int]
) -> None:
    """A child in its own session cannot be killed with the group; it still must not make the
    call wait for it just because it holds the output pipe open."""
    started = time.monotonic()
    result = await RunCommand(
        command="setsid bash -c 'echo $$ > esc.pid; exec sleep 30' & sleep 0.2; echo hi",
        timeout=20,
    ).run(ctx)
    escaped = int((ws / "esc.pid").read_text())
    spawned.append(escaped)
    elapsed = time.monotonic() - started
    # Let the pipe it held close while the event loop still runs, so nothing is left open.
    os.kill(escaped, 9)
    for _ in range(100):
        if not alive(escaped):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert elapsed < 10
    assert result.output == "hi\n[exit code 0]"
