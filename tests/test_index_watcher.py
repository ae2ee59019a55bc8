"""The watcher keeps the index current from a background thread, with real file events."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.index.index import CodeIndex
from agent.index.store import Store
from agent.index.watcher import IndexWatcher

from helpers import git


class Updates:
    """What the watcher reported, and a way to wait for it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.changed = threading.Condition()

    def __call__(self, paths: list[str], seconds: float) -> None:
        assert seconds >= 0
        with self.changed:
            self.batches.append(paths)
            self.changed.notify_all()

    def seen(self) -> set[str]:
        return {path for batch in self.batches for path in batch}

    def wait_for(self, paths: set[str], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: paths <= self.seen(), timeout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "core.py").write_text("def compute(x):\n    return x\n")
    (root / "src" / "cli.py").write_text("from src.core import compute\n\n\ncompute(1)\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


@pytest.fixture
def watched(project: Path, tmp_path: Path) -> Iterator[tuple[CodeIndex, Updates]]:
    index = CodeIndex(project, Store(tmp_path / "index.sqlite"))
    index.refresh()
    updates = Updates()
    watcher = IndexWatcher(index, updates).start()
    try:
        assert watcher.ready.wait(5)
        yield index, updates
    finally:
        watcher.stop()
    assert not watcher.wait(0)  # stopped


def where(index: CodeIndex, name: str) -> list[tuple[str, int]]:
    return [(d.path, d.line) for d in index.definitions(name)]


def test_a_saved_file_is_reindexed_within_a_second(
    watched: tuple[CodeIndex, Updates], project: Path
) -> None:
    index, updates = watched
    started = time.monotonic()
    (project / "src" / "core.py").write_text("def compute_total(x):\n    return x\n")
    assert updates.wait_for({"src/core.py"}, timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert where(index, "compute_total") == [("src/core.py", 1)]
    assert where(index, "compute") == []
    # A new file, then its deletion.
    (project / "src" / "extra.py").write_text("def extra():\n    pass\n")
    assert updates.wait_for({"src/extra.py"}, timeout=1.0)
    assert where(index, "extra") == [("src/extra.py", 1)]
    updates.batches.clear()
    (project / "src" / "extra.py").unlink()
    assert updates.wait_for({"src/extra.py"}, timeout=1.0)
    assert where(index, "extra") == []


def test_changes_in_git_vendored_and_ignored_files_trigger_nothing(
    watched: tuple[CodeIndex, Updates], project: Path
) -> None:
    index, updates = watched
    git(project, "commit", "-q", "--allow-empty", "-m", "touches .git only")
    (project / "node_modules" / "pkg").mkdir(parents=True)
    (project / "node_modules" / "pkg" / "index.js").write_text("function vendored() {}\n")
    (project / "debug.log").write_text("def logged():\n")
    (project / "src" / "marker.py").write_text("def marker():\n    pass\n")
    assert updates.wait_for({"src/marker.py"}, timeout=2.0)
    time.sleep(0.2)  # let any late batch arrive
    assert updates.seen() == {"src/marker.py"}
    assert "node_modules/pkg/index.js" not in index.model.files
    assert where(index, "vendored") == [] and where(index, "logged") == []


def test_many_files_at_once_arrive_together(
    watched: tuple[CodeIndex, Updates], project: Path
) -> None:
    index, updates = watched
    names = {f"src/gen_{i}.py" for i in range(40)}
    for i, name in enumerate(sorted(names)):
        (project / name).write_text(f"def generated_{i}():\n    pass\n")
    assert updates.wait_for(names, timeout=3.0)
    assert len(updates.batches) <= 3
    for i in range(40):
        assert len(index.definitions(f"generated_{i}")) == 1


def test_a_moved_folder_moves_its_files(watched: tuple[CodeIndex, Updates], project: Path) -> None:
    index, updates = watched
    shutil.move(project / "src", project / "lib")
    assert updates.wait_for({"src/core.py", "lib/core.py"}, timeout=2.0)
    assert where(index, "compute") == [("lib/core.py", 1)]
    assert sorted(index.model.files) == [".gitignore", "lib/cli.py", "lib/core.py"]
