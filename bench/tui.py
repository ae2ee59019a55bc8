"""Time to the app's first frame, as a person sees it: ``shipmate`` launched in tmux at
120x40 against the scripted model server, the pane polled until the input box shows.

Also: the time until the session is ready (the status bar names the sandbox: litellm is
imported and the conversation built, in the background), and, in the same run, two
baselines: tmux plus a bare Python that prints the same words (what the polling itself
costs), and a bare Textual app showing a TextArea (Textual's own start-up: the floor).

    python bench/tui.py [--runs 7]
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
from helpers import SLUGIFY, SLUGIFY_TESTS, git
from scripted_llm import ScriptedLLM

INPUT_BOX = "Ask Shipmate"
READY = "sandbox"
POLL = 0.01
TIMEOUT = 30.0


def shipmate_command() -> str:
    beside = Path(sys.executable).parent / "shipmate"
    found = str(beside) if beside.exists() else shutil.which("shipmate")
    if not found:
        sys.exit("shipmate is not installed in this environment: pip install . first")
    return found


def screen(session: str) -> str:
    done = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
    )
    return done.stdout


def launch(command: str, cwd: Path, env: dict[str, str], marks: list[str]) -> list[float]:
    """Seconds from launching ``command`` in a new 120x40 tmux session until each of
    ``marks`` is on screen."""
    session = f"shipmate-bench-{os.getpid()}"
    started = time.perf_counter()
    shell = f"env {' '.join(f'{k}={v}' for k, v in env.items())} {command}"
    tmux = ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(cwd)]
    subprocess.run([*tmux, shell], check=True)
    found: list[float] = []
    try:
        while len(found) < len(marks):
            if time.perf_counter() - started > TIMEOUT:
                sys.exit(f"gave up waiting for {marks[len(found)]!r}:\n{screen(session)}")
            if marks[len(found)] in screen(session):
                found.append(time.perf_counter() - started)
                continue
            time.sleep(POLL)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is not installed")
    shipmate = shipmate_command()
    # A session that outlives the measured ones keeps the tmux server up: one that exits
    # with its last session cannot take the next new-session while it shuts down.
    hold = f"shipmate-bench-hold-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", hold, "sleep 600"], check=True)
    try:
        measure_all(shipmate, args.runs)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", hold], capture_output=True)


def measure_all(shipmate: str, runs: int) -> None:
    server = ScriptedLLM().start()
    with tempfile.TemporaryDirectory() as temp:
        repo, home = Path(temp) / "repo", Path(temp) / "home"
        repo.mkdir()
        home.mkdir()
        (repo / "textutil.py").write_text(SLUGIFY)
        (repo / "test_textutil.py").write_text(SLUGIFY_TESTS)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "initial")
        env = {"HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        app = f"{shipmate} --model openai/scripted --api-base {server.url}"
        baseline = (
            f"{sys.executable} -c 'import time; print(\"{INPUT_BOX}\", flush=True); time.sleep(30)'"
        )
        bare = (
            f"{sys.executable} -c 'from textual.app import App; from textual.widgets import "
            f'TextArea; App.compose = lambda self: [TextArea(placeholder="{INPUT_BOX}")]; '
            "App().run()'"
        )
        launch(app, repo, env, [INPUT_BOX, READY])  # a warm disk cache, as a person has
        base, textual, first, ready = [], [], [], []
        for _ in range(runs):
            base += launch(baseline, repo, env, [INPUT_BOX])
            textual += launch(bare, repo, env, [INPUT_BOX])
            frame, prepared = launch(app, repo, env, [INPUT_BOX, READY])
            first.append(frame)
            ready.append(prepared)
    server.stop()
    print(f"runs: {runs} (medians), tmux 120x40, polled every {POLL * 1000:.0f} ms")
    print(f"  baseline (tmux + python printing the words): {statistics.median(base):.3f} s")
    print(f"  a bare Textual app with a TextArea:           {statistics.median(textual):.3f} s")
    print(f"  shipmate: first frame with the input box:     {statistics.median(first):.3f} s")
    print(f"  shipmate: session ready (litellm, sandbox):   {statistics.median(ready):.3f} s")


if __name__ == "__main__":
    main()
