"""Running one shell command: its own process group, a deadline, and bounded output.

The command gets a new session so the whole group (its children included) can be killed on
timeout, on cancellation, and after it exits, so nothing it started in the background
outlives the call. Output is kept as head and tail within a budget; when it overflows, a log
is kept on disk and its path is reported. The log is bounded too (its first and last few MB),
and the logs folder is pruned, oldest first, whenever a new log is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from agent.config import data_dir
from agent.storage import os_reason, private_dir, tighten
from agent.terminal import for_model
from tools.executables import require
from tools.sandbox import command_env

READ_CHUNK = 64 * 1024
LOG_HEAD = 2 * 1024 * 1024  # bytes of a command's output its log keeps from the start
LOG_TAIL = 2 * 1024 * 1024  # and from the end
LOGS_MAX_BYTES = 200 * 1024 * 1024  # the logs folder, all sessions together
LOGS_MAX_FILES = 200


@dataclass
class Outcome:
    exit_code: int | None
    output: str
    timed_out: bool
    truncated: bool
    log_path: Path | None
    seconds: float
    log_problem: str = ""  # why no log was kept, when the disk refused it


class _Tail:
    """The last ``size`` bytes of a stream, in no more memory than ``size`` and one read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: deque[bytes] = deque()
        self.length = 0

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.length += len(data)
        while self.length - len(self.parts[0]) >= self.size:
            self.length -= len(self.parts.popleft())

    def value(self) -> bytes:
        return b"".join(self.parts)[-self.size :]


class _Capture:
    """The first and last ``limit // 2`` bytes for the model, and a log on disk with the
    first ``LOG_HEAD`` and last ``LOG_TAIL`` bytes, kept only when the model's part was cut."""

    def __init__(self, limit: int, log_dir: Path) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = _Tail(self.half)
        self.total = 0
        self.logs_root = _logs_root(log_dir)
        self.log: BinaryIO | None = None
        self.log_path: Path | None = None
        self.log_problem = ""  # why there is no log, when the disk refused one
        try:
            if self.logs_root != log_dir:
                private_dir(self.logs_root)
            private_dir(log_dir)
            fd, name = tempfile.mkstemp(prefix="command-", suffix=".log", dir=log_dir)
        except OSError as error:
            self.log_problem = f"{log_dir} cannot be written ({os_reason(error)})"
        else:
            tighten(fd)
            self.log = os.fdopen(fd, "wb")
            self.log_path = Path(name)
        self.logged = 0  # bytes written to the log as they came (its head)
        self.log_tail = _Tail(LOG_TAIL)

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        rest = data
        if self.logged < LOG_HEAD:
            part = data[: LOG_HEAD - self.logged]
            self._log(part)
            self.logged += len(part)
            rest = data[len(part) :]
        if rest:
            self.log_tail.add(rest)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail.add(data)

    def _log(self, data: bytes) -> None:
        """Write to the log; a disk that fills up drops the log, never the command."""
        if self.log is None:
            return
        try:
            self.log.write(data)
        except OSError as error:
            self.log_problem = f"{self.logs_root} cannot be written ({os_reason(error)})"
            self._drop_log()

    def _drop_log(self) -> None:
        if self.log is not None:
            with contextlib.suppress(OSError):
                self.log.close()
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink(missing_ok=True)
        self.log = self.log_path = None

    def finish(self) -> tuple[str, bool, Path | None]:
        tail = self.tail.value()
        skipped = self.total - len(self.head) - len(tail)
        if skipped <= 0:
            self._drop_log()
            return _decode(bytes(self.head) + tail), False, None
        self._close_log()
        if self.log_path is not None:
            _prune(self.logs_root, self.log_path)
        text = f"{_decode(bytes(self.head))}\n… [{skipped:,} bytes of output cut] …\n"
        return text + _decode(tail), True, self.log_path

    def _close_log(self) -> None:
        tail = self.log_tail.value()
        skipped = self.total - self.logged - len(tail)
        if skipped > 0:
            self._log(
                f"\n… [{skipped:,} bytes cut here: a log keeps the first {LOG_HEAD:,} and the "
                f"last {LOG_TAIL:,} bytes of a command's output] …\n".encode()
            )
        self._log(tail)
        if self.log is not None:
            try:
                self.log.close()
            except OSError as error:
                self.log_problem = f"{self.logs_root} cannot be written ({os_reason(error)})"
                self._drop_log()


def _decode(data: bytes) -> str:
    return for_model(data.decode("utf-8", errors="replace"))


def _logs_root(log_dir: Path) -> Path:
    """The folder whose logs are pruned together: Shipmate's logs folder for a session's
    logs, else ``log_dir`` alone (nothing outside Shipmate's own folders is ever pruned)."""
    shared = data_dir() / "logs"
    return shared if log_dir.parent == shared else log_dir


def _prune(root: Path, keep: Path) -> None:
    """Remove the oldest command logs under ``root`` past ``LOGS_MAX_FILES`` files or
    ``LOGS_MAX_BYTES`` bytes (``keep`` stays), then session folders left empty."""
    found = []
    for path in [*root.glob("command-*.log"), *root.glob("*/command-*.log")]:
        with contextlib.suppress(OSError):
            info = path.stat()
            found.append((info.st_mtime, info.st_size, path))
    found.sort(reverse=True)
    size = 0
    for count, (_, length, path) in enumerate(found, 1):
        size += length
        if path != keep and (count > LOGS_MAX_FILES or size > LOGS_MAX_BYTES):
            with contextlib.suppress(OSError):
                path.unlink()
                if path.parent not in (root, keep.parent):
                    path.parent.rmdir()  # once its last log is gone
    if keep.parent == root:
        return
    # Sessions whose commands all printed little leave empty folders; one idle for a
    # minute belongs to no command starting right now.
    idle = time.time() - 60
    for folder in root.iterdir():
        with contextlib.suppress(OSError):
            if folder.is_dir() and folder != keep.parent and folder.stat().st_mtime < idle:
                folder.rmdir()  # only if empty


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
        log_problem=capture.log_problem,
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
