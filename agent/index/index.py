"""The code index of one repository: build it, keep it current, ask it questions.

``refresh()`` brings the index in line with the files on disk: a file whose size and mtime
are unchanged is not read; a changed one is hashed and, if its content is new, parsed (in a
process pool when there are many). The in-memory model is saved as one snapshot; the next
process loads it and replays only the files whose content differs from it. ``update(paths)``
re-indexes a few paths named by a watcher in place, and the snapshot is written on the next
``refresh()`` or ``close()`` rather than after every save.
"""

from __future__ import annotations

import marshal
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.index.files import MAX_FILE_BYTES, admissible, candidate_files
from agent.index.model import Model
from agent.index.rank import Ranker
from agent.index.repomap import render
from agent.index.store import FileRow, Store
from agent.index.tags import Definition, FileTags
from tools.names import on_disk
from tools.paths import open_inside

if TYPE_CHECKING:
    from agent.index.build import Indexed

Progress = Callable[[int, int], None]


@dataclass
class Stats:
    files: int
    parsed: int
    read: int
    skipped: int
    symbols: int
    languages: dict[str, int]
    seconds: float
    cold: bool


@dataclass
class SymbolUse:
    path: str
    line: int
    text: str
    kind: str = ""


class CodeIndex:
    def __init__(self, root: Path, store: Store | None = None) -> None:
        self.root = root.resolve()
        self.store = store or Store()
        self.repo = self.store.repo_id(self.root)
        self.rows: dict[str, FileRow] = {}
        self.model = Model()
        self.ranker = Ranker(self.model)
        self.lock = threading.RLock()
        self._dirty = False
        self.last_parsed = 0

    def refresh(self, progress: Progress | None = None) -> Stats:
        """Bring the index up to date with every file on disk.

        Once loaded, later calls only stat the files and re-index what changed in place.
        """
        started = time.perf_counter()
        with self.lock:
            if self.rows:
                return self._refresh_loaded(started)
            stored = self.store.files(self.repo)
            cold = not stored
            wanted = candidate_files(self.root)
            unchanged: dict[str, FileRow] = {}
            sizes: dict[str, int] = {}
            for path in wanted:
                row = stored.get(path)
                try:
                    info = os.stat(on_disk(self.root, path))
                except OSError:
                    continue
                if row and row[0] == info.st_size and row[1] == info.st_mtime_ns:
                    unchanged[path] = row
                else:
                    sizes[path] = info.st_size
            # Biggest first, so the pool does not end waiting on one large file.
            changed = sorted(sizes, key=lambda path: -sizes[path])
            fresh: dict[str, FileRow] = {}
            new_blobs: dict[str, bytes] = {}
            # A cold build adds each file to the model as its worker returns it, so the
            # model is built while the pool parses, not after.
            building = Model() if cold else None
            for path, size, mtime, digest, language, tags in self._index_files(changed, progress):
                fresh[path] = (size, mtime, digest, language)
                if tags is not None:
                    new_blobs[digest] = tags
                    if building is not None:
                        building.add(path, digest, language, marshal.loads(tags))
            removed = [path for path in stored if path not in unchanged and path not in fresh]
            if fresh or removed:
                self.store.save(self.repo, fresh, removed, new_blobs)
            self.rows = {**unchanged, **fresh}
            if building is not None and len(building.files) == len(self._indexed()):
                building.link_all()
                self._use(building, dirty=True)
            else:
                self._load_model(new_blobs)
            return self._stats(started, cold, parsed=len(new_blobs), read=len(changed))

    def _refresh_loaded(self, started: float) -> Stats:
        wanted = candidate_files(self.root)
        listed = set(wanted)
        gone = [path for path in self.rows if path not in listed]
        stale: list[str] = []
        for path in wanted:
            row = self.rows.get(path)
            try:
                info = os.stat(on_disk(self.root, path))
            except OSError:
                continue
            if not row or row[0] != info.st_size or row[1] != info.st_mtime_ns:
                stale.append(path)
        self.update(stale, gone)
        self.save()
        return self._stats(started, cold=False, parsed=self.last_parsed, read=len(stale))

    def _index_files(self, paths: list[str], progress: Progress | None = None) -> Iterator[Indexed]:
        if not paths:
            return iter(())
        # Imported here: the parsers are only needed when a file changed, and a warm start
        # should not pay for loading them.
        from agent.index.build import index_files

        return index_files(self.root, paths, self.store.path, self.store.has, progress)

    def _load_model(self, new_blobs: dict[str, bytes]) -> None:
        """Start from the repository's last snapshot and replay what differs from it.

        Without a snapshot, or when most files differ (another checkout), build it whole.
        """
        indexed = self._indexed()
        data = self.store.snapshot(self.repo)
        model = Model.load(data) if data else None
        if model is not None:
            differ = [
                path
                for path in set(indexed) | set(model.files)
                if model.files.get(path, ("",))[0] != indexed.get(path, ("",))[0]
            ]
            if len(differ) > max(50, len(indexed) // 4):
                model = None
        if model is None:
            model = Model()
            blobs = self.store.blobs(d for d, _ in indexed.values() if d not in new_blobs)
            blobs.update(new_blobs)
            for path, (digest, language) in indexed.items():
                if digest in blobs:
                    model.add(path, digest, language, marshal.loads(blobs[digest]))
            model.link_all()
            self._dirty = True
        elif differ:
            wanted = {model.files[p][0] for p in differ if p in model.files}
            wanted |= {indexed[p][0] for p in differ if p in indexed}
            blobs = self.store.blobs(d for d in wanted if d not in new_blobs)
            blobs.update(new_blobs)
            for path in sorted(differ):
                old = model.files.get(path)
                new = indexed.get(path)
                old_tags = marshal.loads(blobs[old[0]]) if old and old[0] in blobs else None
                new_entry = None
                if new and new[0] in blobs:
                    new_entry = (new[0], new[1], marshal.loads(blobs[new[0]]))
                model.update(path, old_tags, new_entry)
            self._dirty = True
        self._use(model, self._dirty)

    def _use(self, model: Model, dirty: bool) -> None:
        self.model = model
        self.ranker = Ranker(model)
        self._dirty = dirty
        self.save()

    def save(self) -> None:
        """Write the model as the repository's snapshot, if it changed since the last one."""
        with self.lock:
            if self._dirty:
                self.store.save_snapshot(self.repo, self.model.dump())
                self._dirty = False

    def close(self) -> None:
        self.save()
        self.store.close()

    def _indexed(self) -> dict[str, tuple[str, str | None]]:
        """Paths with tags (not skipped as binary, minified or too large)."""
        return {
            path: (digest, language)
            for path, (_, _, digest, language) in self.rows.items()
            if not (language or "").startswith("!")
        }

    def update(self, paths: Iterable[str], gone: Iterable[str] = ()) -> list[str]:
        """Re-index just these paths (changed, created or deleted); returns those that changed.

        ``gone`` are paths to drop even if they still exist (newly ignored). Many paths at
        once (a branch switch, a formatter run) go through the process pool.
        """
        with self.lock:
            gone = {path for path in gone if path in self.rows}
            paths = sorted(set(paths) - gone)
            new = set(admissible(self.root, [p for p in paths if p not in self.rows]))
            candidates = [p for p in paths if p in self.rows or p in new]
            indexed = {row[0]: row for row in self._index_files(candidates)}
            fresh: dict[str, FileRow] = {}
            removed: list[str] = []
            new_blobs: dict[str, bytes] = {}
            changed: list[str] = []
            for path in sorted(gone):
                removed.append(path)
                self._apply(path, self.rows[path], None, None)
                changed.append(path)
            for path in candidates:
                old = self.rows.get(path)
                row = indexed.get(path)
                if row is None:
                    if old is not None:
                        removed.append(path)
                        self._apply(path, old, None, None)
                        changed.append(path)
                    continue
                _, size, mtime, digest, language, tags = row
                fresh[path] = (size, mtime, digest, language)
                if tags is not None:
                    new_blobs[digest] = tags
                if old is None or old[2] != digest or old[3] != language:
                    self._apply(path, old, fresh[path], tags)
                    changed.append(path)
            if fresh or removed:
                self.store.save(self.repo, fresh, removed, new_blobs)
                self.rows.update(fresh)
                for path in removed:
                    self.rows.pop(path, None)
            if changed:
                self.ranker = Ranker(self.model)
                self._dirty = True
            self.last_parsed = len(new_blobs)
            return changed

    def _apply(
        self, path: str, old: FileRow | None, new: FileRow | None, new_tags: bytes | None
    ) -> None:
        old_tags = self._tags(old)
        new_entry = None
        if new is not None and not (new[3] or "").startswith("!"):
            tags = marshal.loads(new_tags) if new_tags is not None else self._tags(new)
            if tags is not None:
                new_entry = (new[2], new[3], tags)
        self.model.update(path, old_tags, new_entry)

    def _tags(self, row: FileRow | None) -> FileTags | None:
        if row is None or (row[3] or "").startswith("!"):
            return None
        data = self.store.blobs([row[2]]).get(row[2])
        return marshal.loads(data) if data else None

    def tags(self, path: str) -> FileTags | None:
        """A file's definitions, references and words, as last indexed."""
        return self._tags(self.rows.get(path))

    def ranking(self, request: str = "", focus: Iterable[str] = ()) -> list[tuple[str, float]]:
        """Every indexed file with its score for ``request``, best first."""
        with self.lock:
            return self.ranker.rank(request, focus)

    def repo_map(
        self,
        request: str = "",
        focus: Iterable[str] = (),
        tokens: int = 2048,
        ranking: list[tuple[str, float]] | None = None,
    ) -> str:
        """The map for ``request`` within ``tokens`` (from ``ranking`` if already computed)."""
        with self.lock:
            if ranking is None:
                ranking = self.ranker.rank(request, focus)
            return render(self.model, ranking, self.tags, tokens, request)

    def definitions(self, name: str) -> list[SymbolUse]:
        """Where ``name`` is defined: path, line (1-based), the definition's header."""
        with self.lock:
            found = []
            for path in sorted(self.model.defined.get(name) or ()):
                tags = self.tags(path)
                for defined, kind, line, _, _, signature in tags[0] if tags else []:
                    if defined == name:
                        found.append(SymbolUse(path, line + 1, signature, kind))
            return found

    def references(self, name: str, limit: int = 100) -> list[SymbolUse]:
        """Lines that use ``name``, in the files the index says use it."""
        with self.lock:
            users = sorted(self.model.referenced.get(name) or ())
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
        found: list[SymbolUse] = []
        for path in users:
            try:
                with os.fdopen(open_inside(self.root, path), "rb") as handle:
                    text = handle.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
            except OSError:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if pattern.search(line):
                    found.append(SymbolUse(path, number, line.strip()[:200]))
                    if len(found) >= limit:
                        return found
        return found

    def outline(self, path: str) -> list[Definition] | None:
        """A file's definitions in source order (None if the index does not have the file)."""
        with self.lock:
            row = self.rows.get(path)
            if row is None or (row[3] or "").startswith("!"):
                return None
            tags = self.tags(path)
            return tags[0] if tags else []

    def _stats(self, started: float, cold: bool, parsed: int, read: int) -> Stats:
        languages: dict[str, int] = {}
        skipped = 0
        for _, _, _, language in self.rows.values():
            if (language or "").startswith("!"):
                skipped += 1
            else:
                key = language or "other"
                languages[key] = languages.get(key, 0) + 1
        return Stats(
            files=len(self.rows) - skipped,
            parsed=parsed,
            read=read,
            skipped=skipped,
            symbols=self.model.definitions,
            languages=dict(sorted(languages.items(), key=lambda item: -item[1])),
            seconds=time.perf_counter() - started,
            cold=cold,
        )
