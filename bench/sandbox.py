"""What the sandbox costs per command: ``true`` run the way the model runs a command.

Four ways, in the same run (the machine is shared and noisy, so ratios are the figures):
no sandbox (bash only), a bare ``bwrap --ro-bind / / true`` (the floor any bubblewrap sandbox
pays), and Shipmate's sandbox (hidden home, toolchains bound back, the workspace walked for
secret files to mask) on a small workspace and on a large one: the SymPy source tree from the
benchmark data, with 2,000 packages (50,000 files) in ``node_modules`` beside it.

    python bench/sandbox.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.base import ToolContext
from tools.limits import Limits
from tools.sandbox import Sandbox, SandboxSettings, find_bubblewrap
from tools.sandbox_view import workspace_secrets
from tools.shell import RunCommand

SYMPY = Path(__file__).resolve().parents[2] / "shared/bench/swebench_dev/trees"


def sympy_tree(root: Path) -> Path:
    """The SymPy source snapshot of the benchmark data, unpacked under ``root``."""
    archive = next(SYMPY.glob("sympy__sympy@*.tar.gz"), None)
    if archive is None:
        sys.exit(f"the SymPy snapshot is missing under {SYMPY}")
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return next(path for path in root.iterdir() if path.is_dir())


def large_workspace(root: Path) -> Path:
    workspace = sympy_tree(root)
    for package in range(2000):
        folder = workspace / "node_modules" / f"pkg{package}" / "lib"
        folder.mkdir(parents=True)
        for number in range(25):
            (folder / f"f{number}.js").touch()
    (workspace / ".env").write_text("API_KEY=secret\n")
    return workspace


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    bubblewrap, problem = find_bubblewrap()
    if bubblewrap is None:
        sys.exit(f"no sandbox here: {problem}")
    with tempfile.TemporaryDirectory() as temp:
        small = Path(temp) / "small"
        small.mkdir()
        (small / "a.py").write_text("print(1)\n")
        large = large_workspace(Path(temp) / "large")

        def command(workspace: Path, sandboxed: bool) -> Callable[[], object]:
            sandbox = Sandbox(SandboxSettings(workspace), bubblewrap, Limits())
            ctx = ToolContext(workspace, log_dir=Path(temp) / "logs", sandbox=sandbox)
            if not sandboxed:
                ctx.sandbox = None
            return lambda: asyncio.run(RunCommand(command="true").run(ctx))

        floor = [bubblewrap.path, "--ro-bind", "/", "/", "--unshare-all", "--", "true"]
        rows = [
            ("bash, no sandbox", median_ms(command(small, False), runs)),
            ("bare bwrap (floor)", median_ms(lambda: subprocess.run(floor, check=True), runs)),
            ("sandbox, small workspace", median_ms(command(small, True), runs)),
            ("sandbox, SymPy + node_modules", median_ms(command(large, True), runs)),
            ("  of which the secret walk", median_ms(lambda: workspace_secrets(large), runs)),
        ]
    base = rows[1][1]
    print(f"per command, median of {runs} runs\n")
    print(f"{'':32} {'ms':>8} {'× floor':>8}")
    for label, ms in rows:
        print(f"{label:32} {ms:8.1f} {ms / base:8.2f}")


if __name__ == "__main__":
    main()
