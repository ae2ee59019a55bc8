"""The code index of one repository: build it, keep it current, ask it questions.

``refresh()`` brings the index in line with the files on disk: a file whose size and mtime
are unchanged is not read; a changed one is hashed and, if its content is new, parsed (in a
process pool when there are many). The in-memory model is saved as one snapshot; the next
process loads it and replays only the files whose content differs from it. ``update(paths)``
re-indexes a few paths named by a watcher in place, and the snapshot is written on the next
``refresh()`` or ``close()`` rather than after every save.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.index.files import DEFAULT_MAX_FILES, MAX_FILE_BYTES, admissible, candidate_files
from agent.index.model import Assembly, Model
from agent.index.rank import Ranker
from agent.index.repomap import render
from agent.index.store import FileRow, Store
from agent.index.tags import Definition, FileTags, reference_lines
from tools.listing import Limit
from tools.names import on_disk
from tools.paths import open_inside
from tools.textio import decode

if TYPE_CHECKING:
    from agent.index.build import Indexed, Parts

Progress = Callable[[int, int], None]
CONTENT_REASONS = {"large": "over 1 MB"}  # else the reason is its own word: binary, minified


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
    skipped_files: list[dict[str, str]]  # {"path", "reason"}, by path


@dataclass
class SymbolUse:
    path: str
    line: int
    text: str
    kind: str = ""


@dataclass
class Uses:
    lines: list[SymbolUse]  # one per line, the first uses in path order
    total: int  # uses in all
    more: int  # uses not on the lines listed


class CodeIndex:
    def __init__(
        self, root: Path, store: Store | None = None, max_files: Limit = DEFAULT_MAX_FILES
    ) -> None:
        self.root = root.resolve()
        self.max_files = max_files
        self.store = store or Store()
        self.repo = self.store.repo_id(self.root)
        self.rows: dict[str, FileRow] = {}
        self.model = Model()
        self.ranker = Ranker(self.model, self.read_text)
        self.lock = threading.RLock()
        self._dirty = False
        self.last_parsed = 0
        self.listed: list[str] = []
        self.left_out: dict[str, str] = {}  # path → why the listing left it out

    def refresh(
        self, progress: Progress | None = None, stop: threading.Event | None = None
    ) -> Stats:
        """Bring the index up to date with every file on disk.

        Once loaded, later calls only stat the files and re-index what changed in place.
        Raises ``IndexRefused`` for a folder too broad to index. Setting ``stop`` (or
        Ctrl-C) ends a build within a fraction of a second; what was indexed by then is
        kept, consistent, and the next refresh carries on from it.
        """
        started = time.perf_counter()
        with self.lock:
            if self.rows:
                return self._refresh_loaded(started)
            stored = self.store.files(self.repo)
            cold = not stored
            wanted = self._list()
            unchanged: dict[str, FileRow] = {}
            sizes: dict[str, int] = {}
            for path in wanted:
                row = stored.get(path)
                try:
                    info = _stat(self.root, path)
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
            # In a cold build the workers also build the model, each batch its share, and
            # the shares are merged here as they come, while the pool parses.
            building = Assembly(changed) if cold else None
            merge = building.merge if building is not None else None
            try:
                with contextlib.closing(self._index_files(changed, progress, stop, merge)) as rows:
                    for path, size, mtime, digest, language, tags in rows:
                        fresh[path] = (size, mtime, digest, language)
                        if tags is not None:
                            new_blobs[digest] = tags
            except BaseException:
                # Rows only for files read in full, with their tags: a consistent store.
                with contextlib.suppress(sqlite3.Error):
                    self.store.save(self.repo, fresh, [], new_blobs)
                raise
            removed = [path for path in stored if path not in unchanged and path not in fresh]
            if fresh or removed:
                self.store.save(self.repo, fresh, removed, new_blobs)
            self.rows = {**unchanged, **fresh}
            if building is not None and len(building.files) == len(self._indexed()):
                self._use(building.model(), dirty=True)
            else:
                self._load_model(new_blobs)
            return self._stats(started, cold, parsed=len(new_blobs), read=len(changed))

    def _list(self) -> list[str]:
        """The files to index; what is left out by name is kept for the stats."""
        self.listed, self.left_out = candidate_files(self.root, self.max_files)
        return self.listed

    def _refresh_loaded(self, started: float) -> Stats:
        wanted = self._list()
        listed = set(wanted)
        gone = [path for path in self.rows if path not in listed]
        stale: list[str] = []
        for path in wanted:
            row = self.rows.get(path)
            try:
                info = _stat(self.root, path)
            except OSError:
                continue
            if not row or row[0] != info.st_size or row[1] != info.st_mtime_ns:
                stale.append(path)
        self.update(stale, gone)
        self.save()
        return self._stats(started, cold=False, parsed=self.last_parsed, read=len(stale))

    def _index_files(
        self,
        paths: list[str],
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        parts: Parts | None = None,
    ) -> Iterator[Indexed]:
        if not paths:
            return (row for row in ())  # a generator, so it can be closed like the others
        # Imported here: the parsers are only needed when a file changed, and a warm start
        # should not pay for loading them.
        from agent.index.build import index_files

        return index_files(self.root, paths, self.store.path, self.store.has, progress, stop, parts)

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
        self.ranker = Ranker(model, self.read_text)
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
                self.ranker = Ranker(self.model, self.read_text)
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

    def definitions(self, symbol: str) -> list[SymbolUse]:
        """Where ``symbol`` is defined: path, line (1-based), the definition's header.

        A qualified name (``Class.method``, ``Type::function``, ``Class#method``) finds the
        definitions of its last part directly inside one of its owner's name.
        """
        owner, name = split_qualified(symbol)
        with self.lock:
            found = []
            for path in sorted(self.model.defined.get(name) or ()):
                defs = (self.tags(path) or ([],))[0]
                for defined, kind, line, _, parent, signature in defs:
                    if defined != name:
                        continue
                    if owner and (parent < 0 or defs[parent][0] != owner):
                        continue
                    found.append(SymbolUse(path, line + 1, signature, kind))
            return found

    def uses(self, symbol: str, limit: int = 100) -> Uses:
        """Lines where the code uses ``symbol`` (calls, imports, types, bases: what the
        grammar's tags query tags, never a comment, a string or the definition), the first
        ``limit`` uses, and how many there are in all.

        For ``Class.method`` the uses of ``method`` in the files that define or use
        ``Class``: which object a call is made on is not known without types.
        """
        owner, name = split_qualified(symbol)
        with self.lock:
            counts = dict(self.model.referenced.get(name) or {})
            if owner:
                near = set(self.model.referenced.get(owner) or ())
                near |= set(self.model.defined.get(owner) or ())
                counts = {path: count for path, count in counts.items() if path in near}
            languages = {path: self.model.files[path][1] for path in counts}
        found: list[SymbolUse] = []
        covered = 0
        for path in sorted(counts):
            if covered >= limit:
                break
            try:
                with os.fdopen(open_inside(self.root, path), "rb") as handle:
                    data = handle.read(MAX_FILE_BYTES)
            except OSError:
                continue
            numbers = reference_lines(data, languages[path], name)
            lines = decode(data).text.splitlines()
            for number in sorted(set(numbers)):
                if covered >= limit:
                    break
                text = lines[number].strip()[:200] if number < len(lines) else ""
                found.append(SymbolUse(path, number + 1, text))
                covered += numbers.count(number)
        total = max(sum(counts.values()), covered)
        return Uses(found, total, total - covered)

    def read_text(self, path: str) -> str | None:
        """An indexed file's text as the ranking reads it (None if it cannot be read)."""
        try:
            with os.fdopen(open_inside(self.root, path), "rb") as handle:
                data = handle.read(MAX_FILE_BYTES)
        except OSError:
            return None
        return decode(data).text

    def outline(self, path: str) -> list[Definition] | None:
        """A file's definitions in source order (None if the index does not have the file)."""
        with self.lock:
            row = self.rows.get(path)
            if row is None or (row[3] or "").startswith("!"):
                return None
            tags = self.tags(path)
            return tags[0] if tags else []

    def skipped(self) -> dict[str, str]:
        """What the index leaves out, and why: by name (vendored, lock, secret, generated,
        ``.shipmateignore``), by content (binary, minified, over 1 MB), or unreadable."""
        with self.lock:
            found = dict(self.left_out)
            for path in self.listed:
                row = self.rows.get(path)
                if row is None:
                    found[path] = "unreadable"
                elif (row[3] or "").startswith("!"):
                    found[path] = CONTENT_REASONS.get(row[3][1:], row[3][1:])
            return found

    def _stats(self, started: float, cold: bool, parsed: int, read: int) -> Stats:
        languages: dict[str, int] = {}
        for _, _, _, language in self.rows.values():
            if not (language or "").startswith("!"):
                key = language or "other"
                languages[key] = languages.get(key, 0) + 1
        skipped = self.skipped()
        return Stats(
            files=sum(languages.values()),
            parsed=parsed,
            read=read,
            skipped=len(skipped),
            symbols=self.model.definitions,
            languages=dict(sorted(languages.items(), key=lambda item: -item[1])),
            seconds=time.perf_counter() - started,
            cold=cold,
            skipped_files=[{"path": path, "reason": why} for path, why in sorted(skipped.items())],
        )


def _stat(root: Path, path: str) -> os.stat_result:
    """``os.stat`` of a listed file; a plain name is joined as a string (a ``Path`` per file
    costs more than the call, a sizeable share of a warm start)."""
    return os.stat(f"{root}/{path}" if "\\x" not in path else on_disk(root, path))


def split_qualified(symbol: str) -> tuple[str, str]:
    """``Class.method``, ``Type::function`` or ``Class#method`` as (owner, name); a plain
    name has no owner. A trailing ``()`` is ignored."""
    parts = [part for part in re.split(r"\.|::|#", symbol.strip().removesuffix("()")) if part]
    if len(parts) < 2:
        return "", parts[0] if parts else ""
    return parts[-2], parts[-1]
