"""What checkpoints cost: the extra work around each tool call, beside the call itself.

On the SymPy snapshot made a git repository (about 1,500 tracked files), in the same run:

- a command: ``true`` in Shipmate's sandbox, and the checkpoint around it (git's changed
  files read before the command and compared after it), with 0 and with 20 files changed by
  the user beforehand;
- an edit: the checkpoint of one file before an edit and its state after (two blobs written
  into the object store, the private ref moved);
- undo of a turn that changed 10 files.

    python bench/checkpoints.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import median_ms, sympy_tree  # bench/sandbox.py, beside this script

from agent.session import SessionStore
from agent.vcs import git
from agent.vcs.checkpoints import Recorder, blob_store
from agent.vcs.undo import undo
from tools.base import ToolContext
from tools.limits import Limits
from tools.sandbox import Sandbox, SandboxSettings, find_bubblewrap
from tools.shell import RunCommand


def repository(root: Path) -> Path:
    """The SymPy snapshot, committed to a new git repository."""
    workspace = sympy_tree(root)
    quiet = {"cwd": workspace, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **quiet)
    subprocess.run(["git", "add", "-A"], **quiet)
    identity = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", *identity, "commit", "-qm", "snapshot"], **quiet)
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    bubblewrap, why = find_bubblewrap()
    with tempfile.TemporaryDirectory() as temp:
        workspace = repository(Path(temp))
        tracked = len(git.repository(workspace).files() or [])
        store = SessionStore(Path(temp) / "sessions.db")
        recorder = Recorder(
            workspace, "bench", blob_store(workspace, "bench", Path(temp) / "copies"), store
        )
        sandbox = Sandbox(SandboxSettings(workspace), bubblewrap, Limits()) if bubblewrap else None
        ctx = ToolContext(workspace, sandbox=sandbox, log_dir=Path(temp) / "logs")

        def command() -> None:
            asyncio.run(RunCommand(command="true").run(ctx))

        def around_command() -> None:
            snapshot = recorder.before_command()
            recorder.after_command(snapshot)

        rows = [
            (
                "a command: `true` in the sandbox" + ("" if sandbox else f" (no sandbox: {why})"),
                median_ms(command, runs),
            )
        ]
        rows.append(("its checkpoint, nothing changed", median_ms(around_command, runs)))
        python_files = sorted(workspace.glob("sympy/core/*.py"))[:20]
        for path in python_files:
            path.write_text(path.read_text() + "# the user's change\n")
        rows.append(
            ("its checkpoint, 20 files changed by the user", median_ms(around_command, runs))
        )

        target = python_files[0].relative_to(workspace).as_posix()
        counter = iter(range(10**6))

        def edit() -> None:
            recorder.start_turn("bench")
            recorder.before_edit([target])
            (workspace / target).write_text(f"# edit {next(counter)}\n")
            recorder.settle()
            recorder.save()

        rows.append(("an edit's checkpoint (before + after, ref moved)", median_ms(edit, runs)))

        def turn_and_undo() -> float:
            recorder.start_turn("ten files")
            paths = [p.relative_to(workspace).as_posix() for p in python_files[:10]]
            recorder.before_edit(paths)
            for path in paths:
                (workspace / path).write_text(f"# rewritten {next(counter)}\n")
            recorder.settle()
            recorder.save()
            started = time.perf_counter()
            asyncio.run(undo(workspace, "bench", store, recorder.blobs))
            return time.perf_counter() - started

        undo_ms = statistics.median(turn_and_undo() for _ in range(runs)) * 1000
        rows.append(("undo of a turn that changed 10 files", undo_ms))
        store.close()
    print(f"SymPy as a git repository: {tracked:,} files; median of {runs} runs")
    width = max(len(name) for name, _ in rows)
    base = rows[0][1]
    for name, ms in rows:
        print(f"  {name:<{width}}  {ms:8.1f} ms  {ms / base:5.2f}× the command")


if __name__ == "__main__":
    main()
