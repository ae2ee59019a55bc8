"""Running one shell command: its own process group, a deadline, and bounded output.

The command gets a new session so the whole group (its children included) can be killed on
timeout, on cancellation, and after it exits, so nothing it started in the background
outlives the call. Output is kept as head and tail within a budget; when it overflows, the
full log is on disk and its path is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tools.executables import require
from tools.sandbox import command_env

READ_CHUNK = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


@dataclass
class Outcome:
    exit_code: int | None
    output: str
    timed_out: bool
    truncated: bool
    log_path: Path | None
    seconds: float


class _Capture:
    """Keeps the first and last ``limit // 2`` bytes, and every byte in a log file."""

    def __init__(self, limit: int, log_dir: Path) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        log_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="command-", suffix=".log", dir=log_dir)
        self.log = os.fdopen(fd, "wb")
        self.log_path = Path(name)

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        self.log.write(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.half:
                del self.tail[: len(self.tail) - self.half]

    def finish(self) -> tuple[str, bool, Path | None]:
        self.log.close()
        truncated = self.total > len(self.head) + len(self.tail)
        if len(self.tail) > self.half:
            truncated = True
            del self.tail[: len(self.tail) - self.half]
        head = _clean(bytes(self.head))
        if not truncated:
            self.log_path.unlink(missing_ok=True)
            return head + _clean(bytes(self.tail)), False, None
        skipped = self.total - len(self.head) - len(self.tail)
        text = f"{head}\n… [{skipped:,} bytes of output cut] …\n{_clean(bytes(self.tail))}"
        return text, True, self.log_path


def _clean(data: bytes) -> str:
    return _ANSI.sub("", data.decode("utf-8", errors="replace")).replace("\r\n", "\n")


async def run_shell(
    command: str,
    cwd: Path,
    timeout: float,
    output_limit: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Run ``command`` with bash in ``cwd``, outside any sandbox."""
    env = command_env(sandboxed=False) if env is None else env
    argv = [require("bash"), "-c", command]
    return await run_process(argv, cwd, env, timeout, output_limit, log_dir)


async def run_process(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    output_limit: int,
    log_dir: Path,
) -> Outcome:
    """Run ``argv`` in ``cwd``; stdout and stderr are merged."""
    started = time.monotonic()
    capture = _Capture(output_limit, log_dir)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, capture))
    timed_out = False
    try:
        await asyncio.wait_for(_exited(process), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        try:
            await asyncio.wait_for(pump, 5)
        except TimeoutError:
            pump.cancel()
        output, truncated, log_path = capture.finish()
    return Outcome(
        exit_code=None if timed_out else process.returncode,
        output=output,
        timed_out=timed_out,
        truncated=truncated,
        log_path=log_path,
        seconds=time.monotonic() - started,
    )


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Return once the shell itself has exited.

    ``Process.wait()`` on Python 3.11 also waits for the output pipe to close, which a
    background child still holding it delays until that child ends or the deadline passes.
    """
    while process.returncode is None:
        await asyncio.sleep(0.02)


async def _pump(stream: asyncio.StreamReader, capture: _Capture) -> None:
    while data := await stream.read(READ_CHUNK):
        capture.feed(data)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
