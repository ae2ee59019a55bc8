"""Start-up cost of the ``shipmate`` command: median wall time and peak RSS per run.

Measures ``shipmate --help`` and ``shipmate --version`` against a bare ``python -c pass``
in the same run (the machine is shared and noisy, so the ratio is the figure to compare),
and, for scale, what importing litellm alone would cost.

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def shipmate_command() -> list[str]:
    beside = Path(sys.executable).parent / "shipmate"
    found = str(beside) if beside.exists() else shutil.which("shipmate")
    if not found:
        sys.exit("shipmate is not installed in this environment: pip install . first")
    return [found]


def measure(command: list[str], runs: int) -> tuple[float, float]:
    """Median seconds and median peak RSS (MB) of ``command`` over ``runs`` runs."""
    seconds, rss = [], []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds.append(time.perf_counter() - started)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(command)} failed")
        rss.append(usage.ru_maxrss / 1024)
    return statistics.median(seconds), statistics.median(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env_note = "LITELLM_LOCAL_MODEL_COST_MAP=True"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    shipmate = shipmate_command()
    cases = [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
        ("shipmate --version", [*shipmate, "--version"]),
        ("shipmate --help", [*shipmate, "--help"]),
        ("shipmate run --help", [*shipmate, "run", "--help"]),
        (f"python -c 'import litellm' ({env_note})", [sys.executable, "-c", "import litellm"]),
    ]
    print(f"{args.runs} runs each, medians; target: --help and --version under 0.3 s\n")
    print(f"{'command':<64} {'wall s':>8} {'x base':>7} {'RSS MB':>8}")
    base = None
    for label, command in cases:
        runs = max(3, args.runs // 3) if "litellm" in label else args.runs
        wall, rss = measure(command, runs)
        base = base or wall
        print(f"{label:<64} {wall:>8.3f} {wall / base:>7.1f} {rss:>8.1f}")


if __name__ == "__main__":
    main()
