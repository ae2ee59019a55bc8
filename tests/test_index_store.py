"""The index store: SQLite in the cache dir, surviving damage, locks and other readers,
and a warm start that reads no file."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent.index.build
from agent.index.index import CodeIndex
from agent.index.store import SCHEMA_VERSION, Store, default_path

from helpers import git

FILES = {
    "pkg/config.py": "def parse_config(path):\n    return {}\n",
    "pkg/app.py": "from pkg.config import parse_config\n\n\ndef main():\n    parse_config('x')\n",
    "web/api.ts": "export function fetchUser(id: number): string {\n  return String(id);\n}\n",
    "README.md": "# Project\n",
}


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree", FILES)


def snapshot_of(index: CodeIndex) -> tuple[object, ...]:
    """What a user of the index sees: files, definitions, ranking and map."""
    return (
        sorted(index.model.files),
        [(d.path, d.line, d.text) for d in index.definitions("parse_config")],
        index.ranking("parse config"),
        index.repo_map("parse config"),
    )


def test_store_lives_in_the_cache_dir_not_in_the_repo(repo: Path, isolated_home: Path) -> None:
    before = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    index = CodeIndex(repo)
    index.refresh()
    index.repo_map("slugify")
    assert index.store.path == default_path()
    assert index.store.path.is_relative_to(isolated_home / ".cache")
    assert index.store.path.is_file()
    after = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    assert after == before
    assert git(repo, "status", "--porcelain", "--ignored") == ""


def test_corrupt_database_is_moved_aside_and_rebuilt(tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "cache" / "index.sqlite"
    path.parent.mkdir()
    garbage = b"this is not a database\x00\xff" * 500
    path.write_bytes(garbage)
    store = Store(path)
    assert store.problem is not None and "rebuilt" in store.problem
    aside = [p for p in path.parent.iterdir() if ".broken-" in p.name]
    assert [p.read_bytes() for p in aside] == [garbage]
    index = CodeIndex(tree, store)
    stats = index.refresh()
    assert stats.cold and stats.files == 4
    assert [d.path for d in index.definitions("parse_config")] == ["pkg/config.py"]
    store.close()
    # The rebuilt file is a good database: the next run has no problem and starts warm.
    again = CodeIndex(tree, Store(path))
    assert again.store.problem is None
    assert not again.refresh().cold


def test_database_of_a_newer_schema_is_rebuilt(tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    index = CodeIndex(tree, Store(path))
    index.refresh()
    index.store.close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    store = Store(path)
    assert store.problem is not None and f"schema version {SCHEMA_VERSION + 1}" in store.problem
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    index = CodeIndex(tree, store)
    stats = index.refresh()
    assert stats.cold and stats.parsed == 4
    assert snapshot_of(index)[1] == [("pkg/config.py", 1, "def parse_config(path):")]


def test_two_indexes_share_one_database(tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    first = CodeIndex(tree, Store(path))
    second = CodeIndex(tree, Store(path))
    assert first.store.db is not second.store.db
    errors: list[BaseException] = []

    def refresh(index: CodeIndex) -> None:
        try:
            index.refresh()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=refresh, args=(index,)) for index in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert snapshot_of(first) == snapshot_of(second)
    assert sorted(first.model.files) == sorted(FILES)
    # A change written through one is seen by the other, which re-reads only that file.
    (tree / "pkg" / "config.py").write_text("def load_config(path):\n    return {}\n")
    assert first.update(["pkg/config.py"]) == ["pkg/config.py"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agent.index.build, "extract", no_parsing)  # the store has the content
        assert second.refresh().read == 1
    assert [d.path for d in second.definitions("load_config")] == ["pkg/config.py"]
    assert snapshot_of(first) == snapshot_of(second)


def no_parsing(*args: object) -> None:
    raise AssertionError("content already in the store was parsed again")


def hold_lock(path: Path, locked: threading.Event, release: threading.Event) -> None:
    """Another connection holding the write lock until ``release`` (at most 20 s)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("BEGIN EXCLUSIVE")
    locked.set()
    release.wait(20)
    db.execute("ROLLBACK")
    db.close()


@contextlib.contextmanager
def locked_database(path: Path, seconds: float | None = None) -> Iterator[None]:
    """The database locked by another connection, for ``seconds`` or the whole block."""
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_lock, args=(path, locked, release), daemon=True)
    holder.start()
    assert locked.wait(5)
    timer = threading.Timer(seconds, release.set) if seconds is not None else None
    if timer:
        timer.start()
    try:
        yield
    finally:
        release.set()
        holder.join(5)
        if timer:
            timer.cancel()


def test_database_locked_for_a_moment_is_waited_for(tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    Store(path).close()
    with locked_database(path, seconds=1.0):
        started = time.monotonic()
        index = CodeIndex(tree, Store(path))
        stats = index.refresh()
        assert time.monotonic() - started < 9
    assert index.store.problem is None
    assert stats.files == 4
    assert CodeIndex(tree, Store(path)).refresh().read == 0  # it was saved to the file


def test_warm_start_under_a_lock_needs_no_write(tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    CodeIndex(tree, Store(path)).refresh()
    with locked_database(path):
        started = time.monotonic()
        index = CodeIndex(tree, Store(path))
        stats = index.refresh()
        assert time.monotonic() - started < 3
        assert index.store.problem is None
        assert (stats.read, stats.files) == (0, 4)
        assert [d.path for d in index.definitions("fetchUser")] == ["web/api.ts"]


def test_database_locked_throughout_falls_back_to_a_copy_in_memory(
    tree: Path, tmp_path: Path
) -> None:
    """Another process holds the write lock for longer than the 10 s busy timeout when the
    index must save a change: it waits that long once, then goes on with a copy of the
    database in memory (which knows every file already indexed) instead of crashing."""
    path = tmp_path / "index.sqlite"
    CodeIndex(tree, Store(path)).refresh()
    (tree / "pkg" / "config.py").write_text("def load_config(path):\n    return {}\n")
    with locked_database(path):
        started = time.monotonic()
        index = CodeIndex(tree, Store(path))
        stats = index.refresh()
        assert time.monotonic() - started < 15
        assert index.store.problem is not None and "busy" in index.store.problem
        assert (stats.read, stats.parsed, stats.files) == (1, 1, 4)
        assert [d.path for d in index.definitions("fetchUser")] == ["web/api.ts"]
        assert [d.path for d in index.definitions("load_config")] == ["pkg/config.py"]
        # Later saves go to the copy at once.
        (tree / "pkg" / "config.py").write_text("def read_config(path):\n    return {}\n")
        started = time.monotonic()
        assert index.update(["pkg/config.py"]) == ["pkg/config.py"]
        assert time.monotonic() - started < 2
        assert [d.line for d in index.definitions("read_config")] == [1]


def test_warm_start_reads_no_file(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index.sqlite"
    cold = CodeIndex(tree, Store(path))
    assert cold.refresh().cold
    expected = snapshot_of(cold)

    def no_reading(*args: object) -> None:
        raise AssertionError(f"a warm start read {args[1]}")

    monkeypatch.setattr(agent.index.build, "index_file", no_reading)
    warm = CodeIndex(tree, Store(path))
    stats = warm.refresh()
    assert (stats.read, stats.parsed, stats.cold) == (0, 0, False)
    assert stats.files == 4 and stats.symbols == cold.refresh().symbols
    assert snapshot_of(warm) == expected
    assert warm.outline("pkg/app.py") == cold.outline("pkg/app.py")
    # A second refresh of a loaded index only stats the files.
    assert warm.refresh().read == 0


def test_touch_reads_but_does_not_parse(tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    CodeIndex(tree, Store(path)).refresh()
    touched = tree / "pkg" / "app.py"
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))
    index = CodeIndex(tree, Store(path))
    stats = index.refresh()
    assert (stats.read, stats.parsed, stats.cold) == (1, 0, False)
    assert [d.path for d in index.definitions("main")] == ["pkg/app.py"]
    # The new mtime was recorded: the next start reads nothing.
    assert CodeIndex(tree, Store(path)).refresh().read == 0


def test_same_content_elsewhere_is_not_parsed_again(tmp_path: Path) -> None:
    """Tags are stored by content: a second checkout of the same files parses nothing."""
    path = tmp_path / "index.sqlite"
    CodeIndex(make_tree(tmp_path / "one", FILES), Store(path)).refresh()
    index = CodeIndex(make_tree(tmp_path / "two", FILES), Store(path))
    stats = index.refresh()
    assert (stats.read, stats.parsed, stats.cold) == (4, 0, True)
    assert [d.path for d in index.definitions("parse_config")] == ["pkg/config.py"]
