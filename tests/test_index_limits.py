"""The index never makes the user wait without a word: Ctrl-C stops a build at once, folders
too broad to index are refused with a message, progress shows, a read-only cache is said."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tools.listing
from agent.events import IndexReady, Result
from agent.index.build import PARALLEL_FROM, Cancelled
from agent.index.cli import index_command, map_command, symbols_command
from agent.index.files import IndexRefused
from agent.index.index import CodeIndex
from agent.index.progress import ProgressLine
from agent.index.store import Store
from agent.vcs import git as vcs_git

from helpers import REPO_ROOT, git, make_agent, run_cli
from scripted_llm import Reply, ScriptedLLM

MODULE = '''
class Widget{n}:
    """A generated class, long enough that parsing it takes a moment."""

    def render_{n}(self, value, *, width=80):
        return helper_{n}(value, width) + str(self)

    def update_{n}(self, key, value):
        self.values[key] = value
        return self


def helper_{n}(value, width):
    return str(value).ljust(width)
'''


def generated_tree(root: Path, files: int, repeat: int = 1) -> Path:
    """``files`` Python modules (``repeat`` copies of a block each), outside git."""
    for n in range(files):
        folder = root / f"pkg{n % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{n}.py").write_text(MODULE.format(n=n) * repeat)
    return root


def test_a_stopped_build_ends_at_once_and_keeps_a_consistent_store(
    ws: Path, tmp_path: Path
) -> None:
    generated_tree(ws, 4 * PARALLEL_FROM)
    path = tmp_path / "index.sqlite"
    stop = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        stop.set()  # after the first batch: the rest is never waited for

    index = CodeIndex(ws, Store(path))
    with pytest.raises(Cancelled):
        index.refresh(progress, stop)
    assert 0 < seen[-1] < 4 * PARALLEL_FROM
    index.store.close()
    # What was indexed is kept; the next refresh parses only the rest and ends up whole.
    resumed = CodeIndex(ws, Store(path))
    stats = resumed.refresh()
    assert not stats.cold
    assert stats.parsed == 4 * PARALLEL_FROM - seen[-1]
    assert stats.files == 4 * PARALLEL_FROM and stats.symbols == 4 * PARALLEL_FROM * 4
    whole = CodeIndex(ws, Store(tmp_path / "whole.sqlite"))
    whole.refresh()
    assert resumed.model.files == whole.model.files
    for name in ("helper_7", "Widget100", "render_3"):
        assert resumed.definitions(name) == whole.definitions(name)
        assert resumed.uses(name) == whole.uses(name)
    query = "render a widget with the helper"
    scores = [{p: round(s, 9) for p, s in i.ranking(query)} for i in (resumed, whole)]
    assert scores[0] == scores[1]  # equal scores (ties may be summed in another order)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_ctrl_c_stops_shipmate_index_within_a_second(ws: Path) -> None:
    """A real ``shipmate index`` on a tree that takes seconds to parse; Ctrl-C (SIGINT to
    the whole process group, as a terminal sends it) while the worker pool runs."""
    generated_tree(ws, 1200, repeat=12)
    command = [sys.executable, "-m", "agent", "index", "-C", str(ws)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(process.pid)
    assert len(workers) >= 2, "the worker pool never started"
    time.sleep(0.3)
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)
    took = time.monotonic() - sent
    assert process.returncode == 130, (out, err)  # 0 would mean it finished first
    assert took < 2.0, f"took {took:.2f} s to stop"
    assert "Interrupted." in err and "Traceback" not in err
    assert not [pid for pid in workers if _running(pid)]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has no command line)."""
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False


def test_a_big_folder_outside_git_is_refused_after_counting_only_the_start(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in range(40):
        for name in range(10):
            path = ws / f"d{folder}" / f"f{name}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text("x\n")
    listed: list[str] = []
    scandir = os.scandir

    def counting_scandir(path: str) -> object:
        listed.append(path)
        return scandir(path)

    monkeypatch.setattr(tools.listing.os, "scandir", counting_scandir)
    index = CodeIndex(ws, Store(tmp_path / "index.sqlite"), max_files=25)
    with pytest.raises(IndexRefused) as refused:
        index.refresh()
    message = str(refused.value)
    assert f"{ws} is not a git repository and holds more than 25 files" in message
    assert "index_max_files" in message and "SHIPMATE_INDEX_MAX_FILES" in message
    assert len(listed) <= 4  # the root and the few folders that held the first 26 files
    monkeypatch.undo()
    # The same folder in git is a project: it is indexed whatever its size.
    git(ws, "init", "-q")
    vcs_git.forget()
    assert CodeIndex(ws, Store(tmp_path / "index.sqlite"), max_files=25).refresh().files == 400


def test_the_home_folder_and_the_root_are_refused(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws / "notes.py").write_text("x = 1\n")
    monkeypatch.setenv("HOME", str(ws))
    store = Store(tmp_path / "index.sqlite")
    with pytest.raises(IndexRefused, match="is your home folder, too broad to index; run"):
        CodeIndex(ws, store).refresh()
    with pytest.raises(IndexRefused, match=r"^/ is the root of the file system"):
        CodeIndex(Path("/"), store).refresh()
    assert CodeIndex(ws.parent / "ws", store).root == ws  # a folder inside is fine
    (ws / "project").mkdir()
    (ws / "project" / "app.py").write_text("def main():\n    pass\n")
    assert CodeIndex(ws / "project", store).refresh().files == 1


def test_index_map_and_symbols_say_why_they_refuse(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    generated_tree(ws, 6)
    done = run_cli("index", cwd=ws, env={"SHIPMATE_INDEX_MAX_FILES": "5"})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"shipmate: {ws} is not a git repository and holds more than 5 files, too many to "
        "index; run Shipmate in a project folder, or raise index_max_files "
        "(SHIPMATE_INDEX_MAX_FILES) to index it anyway.\n"
    )
    monkeypatch.setenv("SHIPMATE_INDEX_MAX_FILES", "5")
    for command in (
        lambda: map_command(ws, "render", [], 1024, as_json=True),
        lambda: symbols_command(ws, "Widget1", as_json=False),
    ):
        code = command()
        out, err = capsys.readouterr()
        assert (code, out) == (2, "")
        assert err.startswith(f"shipmate: {ws} is not a git repository and holds more than 5")
    monkeypatch.setenv("SHIPMATE_INDEX_MAX_FILES", "6")
    assert index_command(ws, as_json=True, watch=False) == 0
    monkeypatch.setenv("HOME", str(ws))
    assert index_command(ws, as_json=True, watch=False) == 2
    assert f"shipmate: {ws} is your home folder" in capsys.readouterr().err


async def test_a_run_goes_on_without_the_index_when_it_is_refused(
    llm: ScriptedLLM, ws: Path
) -> None:
    generated_tree(ws, 5)
    llm.add(Reply(text="done"))
    agent = make_agent(llm, ws, index_max_files=3)
    events = [event async for event in agent.send("find the widgets")]
    ready = next(event for event in events if isinstance(event, IndexReady))
    assert ready.problem is not None
    assert "is not a git repository and holds more than 3 files" in ready.problem
    assert "goes on without the code index (reading files and grep still work)" in ready.problem
    assert agent.ctx.index is None
    assert isinstance(events[-1], Result) and events[-1].status == "success"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_without_a_terminal_is_a_line_every_few_seconds() -> None:
    quiet = io.StringIO()
    progress = ProgressLine(quiet)  # a build shorter than a few seconds says nothing
    for done in range(1, 101):
        progress(done, 100)
    progress.finish()
    assert quiet.getvalue() == ""
    log = io.StringIO()
    progress = ProgressLine(log, every=0)
    progress(24, 1000)
    progress(48, 1000)
    progress.every = 60
    progress(72, 1000)  # not yet a few seconds since the last line
    progress(1000, 1000)  # the end of a build that showed progress is always said
    assert log.getvalue().splitlines() == [
        "Indexing: 24/1,000 files (0 s)",
        "Indexing: 48/1,000 files (0 s)",
        "Indexing: 1,000/1,000 files (0 s); saving the index",
    ]
    assert "\r" not in log.getvalue()


def test_progress_on_a_terminal_is_one_line_redrawn_then_erased() -> None:
    screen = Terminal()
    progress = ProgressLine(screen)
    progress.shown -= 1  # as if the last redraw was a second ago
    progress(10, 64)
    assert screen.getvalue() == "\rIndexing 10/64 files"
    progress(11, 64)  # too soon after the last redraw: not drawn
    assert screen.getvalue() == "\rIndexing 10/64 files"
    progress(64, 64)
    assert screen.getvalue().endswith("\r" + " " * 40 + "\r")


def test_an_unwritable_cache_folder_is_said_and_the_index_still_works(
    ws: Path, tmp_path: Path
) -> None:
    """A path under a regular file cannot be created even by root (ENOTDIR)."""
    (ws / "app.py").write_text("def main():\n    pass\n")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    store = Store(blocker / "shipmate" / "index.sqlite")
    assert store.problem is not None
    assert store.problem.startswith(
        f"the code index could not be saved in {blocker / 'shipmate'} (Not a directory); "
        "it is built in memory and works as usual"
    )
    assert "damaged" not in store.problem and "rebuilt" not in store.problem
    index = CodeIndex(ws, store)
    assert index.refresh().files == 1
    assert [d.text for d in index.definitions("main")] == ["def main():"]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_a_read_only_cache_keeps_the_run_warm(ws: Path, isolated_home: Path) -> None:
    """A read-only bind of the cache folder (root cannot write it either)."""
    (ws / "app.py").write_text("def main():\n    pass\n")
    assert run_cli("index", cwd=ws).returncode == 0
    (ws / "more.py").write_text("def extra():\n    pass\n")
    cache = isolated_home / ".cache"
    done = subprocess.run(
        ["bwrap", "--bind", "/", "/", "--ro-bind", str(cache), str(cache), "--dev", "/dev",
         "--proc", "/proc", sys.executable, "-m", "agent", "index", "--json"],
        cwd=ws, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"cold": false' in done.stdout and '"parsed": 1' in done.stdout
    assert done.stderr == (
        f"note: the code index could not be saved in {cache / 'shipmate'} (Read-only file "
        "system); it is built in memory and works as usual, but is not kept for the next "
        "command. Make that folder writable, or point XDG_CACHE_HOME to one that is.\n"
    )
