"""Start-up cost of the ``shipmate`` command: median wall time and peak RSS per run.

Measures ``shipmate --help`` and ``shipmate --version`` against a bare ``python -c pass``
in the same run (the machine is shared and noisy, so the ratio is the figure to compare),
and, for scale, what importing litellm alone would cost.

Then a scripted one-turn ``shipmate run`` (the test suite's scripted model server, on
127.0.0.1): the time to its first line (text) and first event (stream-json), to the result,
and from the result to the process's exit (target: under 0.3 s).

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from scripted_llm import Reply, ScriptedLLM


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
    scripted_runs(shipmate, max(3, args.runs // 3))


def one_turn(shipmate: list[str], output: str, folder: Path) -> tuple[float, float, float]:
    """Seconds to the first line, to the result line, and from the result to the exit."""
    server = ScriptedLLM([Reply(text="Done.")]).start()
    env = dict(os.environ, OPENAI_API_KEY="bench", XDG_DATA_HOME=str(folder / "data"))
    env.update(XDG_CONFIG_HOME=str(folder / "config"), XDG_CACHE_HOME=str(folder / "cache"))
    command = [*shipmate, "run", "--model", "openai/scripted", "--api-base", server.url]
    command += ["--output-format", output, "say done"]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=folder / "ws",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = result = None
    for line in process.stdout:
        now = time.perf_counter() - started
        first = first if first is not None else now
        if line.startswith(("— ", '{"type":"result"')):
            result = now
    process.wait()
    ended = time.perf_counter() - started
    server.stop()
    if process.returncode != 0 or first is None or result is None:
        sys.exit(f"the scripted run failed ({process.returncode})")
    return first, result, ended - result


def scripted_runs(shipmate: list[str], runs: int) -> None:
    print(f"\nscripted one-turn run, {runs} runs each, medians (target: result to exit < 0.3 s)")
    print(f"{'output':<18} {'first s':>9} {'result s':>9} {'result→exit s':>14}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "ws").mkdir()
        (folder / "ws" / "app.py").write_text("def main():\n    return 1\n")
        subprocess.run(["git", "init", "-q"], cwd=folder / "ws", check=True)
        # The baseline: the same run ending the usual way, through the interpreter's teardown.
        usual = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())"]
        cases = [("text", shipmate, "text"), ("stream-json", shipmate, "stream-json")]
        cases.append(("text, usual exit", usual, "text"))
        for label, command, output in cases:
            figures = [one_turn(command, output, folder) for _ in range(runs)]
            columns = zip(*figures, strict=True)
            first, result, exit_after = (statistics.median(column) for column in columns)
            print(f"{label:<18} {first:>9.3f} {result:>9.3f} {exit_after:>14.3f}")


if __name__ == "__main__":
    main()
