"""Commands that try to exhaust the machine, hang the agent or outlive their call.

The sandbox runs each command in its own cgroup (512 MB, 128 processes here), its own PID
namespace and a process group that is killed when the call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from security_helpers import Guard, sh

from tools.base import ToolContext
from tools.limits import cgroup_layout

PYTHON = sys.executable


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (zombies have none, so do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


async def still_works(box: ToolContext) -> None:
    result = await sh(box, "echo still works")
    assert result.output == "still works\n[exit code 0]"


async def test_attack_fork_bomb(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """:(){ :|:& };: — fork until the machine stops answering."""
    if cgroup_layout() is None and os.geteuid() == 0:
        # Without a cgroup nothing bounds root's processes (a known limit, shown by doctor);
        # an unbounded bomb would take the test machine down with it.
        pytest.skip("no cgroup to bound root's process count here")
    guard = watch()
    marker = "bomb_f0rk"
    peak = 0
    done = False

    async def count() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, len(processes_with(marker)))
            await asyncio.sleep(0.05)

    counter = asyncio.create_task(count())
    started = time.monotonic()
    try:
        result = await sh(box, f"{marker}(){{ {marker}|{marker}& }};{marker}; sleep 3", timeout=8)
    finally:
        done = True
        await counter
    assert time.monotonic() - started < 15
    assert result.is_error or "Resource temporarily unavailable" in result.output
    assert 0 < peak <= 128, f"{peak} processes at the peak"
    assert processes_with(marker) == []
    await still_works(box)
    guard.check()


async def test_attack_memory_hog(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Allocate 2 GB (four times the 512 MB limit) to starve the machine."""
    guard = watch()
    result = await sh(box, f"{PYTHON} -c 'b = bytearray(2 * 1024**3); print(\"got\", len(b))'")
    assert result.is_error
    assert "got" not in result.output
    await still_works(box)
    guard.check()


async def test_attack_fill_private_tmp_with_memory(
    box: ToolContext, watch: Callable[..., Guard]
) -> None:
    """Write 2 GB into the private /tmp, which lives in memory, past the memory limit."""
    guard = watch()
    started = time.monotonic()
    result = await sh(box, "head -c 2G /dev/zero > /tmp/fill && echo filled", timeout=15)
    assert result.is_error
    assert "filled" not in result.output
    assert time.monotonic() - started < 15
    await still_works(box)
    guard.check()


async def test_attack_command_that_never_exits(
    box: ToolContext, watch: Callable[..., Guard]
) -> None:
    """sleep 1000: hold the agent (and its turn) forever."""
    guard = watch()
    started = time.monotonic()
    result = await sh(box, "sleep 1000.71", timeout=1)
    assert time.monotonic() - started < 5
    assert result.is_error
    assert "timed out after 1 s" in result.output
    assert processes_with("1000.71") == []
    guard.check()


async def test_attack_flood_output(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Print 100 MB to blow up the agent's memory and the model's context."""
    guard = watch()
    size = 100_000_000
    result = await sh(box, f"head -c {size} /dev/zero | tr '\\0' x")
    assert len(result.output) < 40_000
    assert "bytes of output cut" in result.output
    log = Path(result.output.split("2 MB) is in ")[1].split("]")[0])
    assert 4_000_000 < log.stat().st_size < 5_000_000  # its first and last 2 MB
    guard.check()


@pytest.mark.parametrize(
    ("how", "command"),
    [
        ("background", "sleep 301.11 &"),
        ("nohup", "nohup sleep 301.12 > /dev/null 2>&1 &"),
        ("setsid", "setsid sleep 301.13 &"),
        ("subshell", "(sleep 301.14 &)"),
        ("double_fork_daemon", "(setsid sh -c 'sleep 301.15 & ' &); sleep 0.2"),
        ("disown", "sleep 301.16 & disown"),
    ],
)
async def test_attack_leave_a_process_behind(
    how: str, command: str, box: ToolContext, watch: Callable[..., Guard]
) -> None:
    """Start a process that outlives the call (a miner, a reverse shell, a file watcher)."""
    marker = "sleep\0" + command.split("sleep ")[1].split()[0]
    guard = watch()
    result = await sh(box, command + "; echo started")
    assert "started" in result.output
    assert processes_with(marker) == []
    guard.check()
