"""Process-count and memory limits for one command.

A cgroup is the real limit (it holds even for root, and the kernel counts every process
the command starts); Shipmate makes one per command under its own cgroup when the system
lets it (cgroup v2 with the controllers delegated, or cgroup v1 as root). Otherwise resource
limits stand in: RLIMIT_DATA for memory, and RLIMIT_NPROC, which the kernel ignores for
root. The command is started through a small ``bash`` that joins the cgroup and sets the
limits, then ``exec``s the real command, so nothing runs before the limits apply.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.executables import require

CGROUP_ROOT = Path("/sys/fs/cgroup")
_JOIN_AND_EXEC = (
    'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 126; shift; done; '
    'shift; ulimit -d "$SHIPMATE_DATA_KB" 2>/dev/null; ulimit -u "$SHIPMATE_NPROC" 2>/dev/null; '
    'unset SHIPMATE_DATA_KB SHIPMATE_NPROC; exec "$@"'
)
_counter = itertools.count()


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 8192
    max_processes: int = 1024


@dataclass(frozen=True)
class CgroupLayout:
    """Where this process may create child cgroups: one folder per controller."""

    version: int
    pids: Path
    memory: Path


@functools.cache
def cgroup_layout() -> CgroupLayout | None:
    """The cgroups Shipmate can create children in, found by trying once."""
    own = _own_cgroups()
    candidates: list[CgroupLayout] = []
    if "" in own:
        unified = CGROUP_ROOT / own[""].lstrip("/")
        if (unified / "cgroup.controllers").exists():
            candidates.append(CgroupLayout(2, unified, unified))
    if "pids" in own and "memory" in own:
        candidates.append(
            CgroupLayout(
                1,
                CGROUP_ROOT / "pids" / own["pids"].lstrip("/"),
                CGROUP_ROOT / "memory" / own["memory"].lstrip("/"),
            )
        )
    for layout in candidates:
        try:
            with _cgroup(layout, Limits()):
                return layout
        except OSError:
            continue
    return None


def _own_cgroups() -> dict[str, str]:
    """Controller name → this process's cgroup path ("" is the cgroup v2 hierarchy)."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(","):
                found[name] = path
    return found


def describe() -> str:
    layout = cgroup_layout()
    if layout is not None:
        return f"cgroup v{layout.version} (process count and memory)"
    if os.geteuid() == 0:
        return "memory only (no cgroup available, and process limits do not bind root)"
    return "resource limits (process count and memory)"


@contextlib.contextmanager
def limited(argv: list[str], env: dict[str, str], limits: Limits) -> Iterator[list[str]]:
    """``argv`` wrapped so it runs within ``limits``; the cgroup is removed afterwards."""
    env["SHIPMATE_DATA_KB"] = str(limits.memory_mb * 1024)
    env["SHIPMATE_NPROC"] = str(_nproc_limit(limits))
    layout = cgroup_layout()
    if layout is None:
        yield [require("bash"), "-c", _JOIN_AND_EXEC, "shipmate-limits", "--", *argv]
        return
    with _cgroup(layout, limits) as procs:
        joins = map(str, procs)
        yield [require("bash"), "-c", _JOIN_AND_EXEC, "shipmate-limits", *joins, "--", *argv]


def _nproc_limit(limits: Limits) -> int:
    """RLIMIT_NPROC counts all of the user's processes, so leave room for those running."""
    uid = os.getuid()
    running = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    running += int(line.split()[1]) == uid
                    break
    return running + limits.max_processes


@contextlib.contextmanager
def _cgroup(layout: CgroupLayout, limits: Limits) -> Iterator[list[Path]]:
    name = f"shipmate-{os.getpid()}-{next(_counter)}"
    folders = list(dict.fromkeys([layout.pids / name, layout.memory / name]))
    made: list[Path] = []
    try:
        for folder in folders:
            folder.mkdir()
            made.append(folder)
        memory = limits.memory_mb * 1024 * 1024
        if layout.version == 2:
            (layout.pids / name / "pids.max").write_text(str(limits.max_processes))
            (layout.memory / name / "memory.max").write_text(str(memory))
            with contextlib.suppress(OSError):
                (layout.memory / name / "memory.swap.max").write_text("0")
        else:
            (layout.pids / name / "pids.max").write_text(str(limits.max_processes))
            (layout.memory / name / "memory.limit_in_bytes").write_text(str(memory))
        yield [folder / "cgroup.procs" for folder in made]
    finally:
        for folder in made:
            _empty_and_remove(folder)


def _empty_and_remove(folder: Path) -> None:
    """Kill whatever is left in the cgroup, then remove it (the kernel needs it empty)."""
    for _ in range(50):
        with contextlib.suppress(OSError):
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
