"""Reading and tagging files, in a pool of processes sized to the CPUs for a cold build.

Workers read the files themselves (so file I/O is parallel too), hash the bytes, look the
hash up in the store (read-only), and parse only content the store has never seen. Tags
come back as ``marshal`` bytes, ready for the store; in a cold build each batch also brings
its share of the model (``model.part``), so the parent only merges.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import multiprocessing
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from agent.index.files import MAX_FILE_BYTES, unreadable_reason
from agent.index.languages import detect
from agent.index.model import part
from agent.index.tags import FileTags, extract
from tools.executables import imports_from
from tools.paths import open_inside

# (path, size, mtime_ns, hash, language or "!reason", tags as marshal bytes or None)
Indexed = tuple[str, int, int, str, str | None, bytes | None]
Parts = Callable[[bytes], None]  # takes each batch's share of the model (``model.part``)
BATCH = 24
PARALLEL_FROM = 64
POLL = 0.1  # seconds between looks at ``stop`` while the pool works


class Cancelled(Exception):
    """The build was stopped before it finished (the session was cancelled)."""


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def index_file(
    root: str, path: str, is_known: Callable[[str], bool]
) -> tuple[Indexed, FileTags | None] | None:
    """One file's row and, unless the store already has its content, its tags (also as
    they are, for the model)."""
    try:
        # No link is followed on the way, the file's own or a folder's: one may lead out.
        fd = open_inside(Path(root), path)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_size > MAX_FILE_BYTES:
                size, mtime = info.st_size, info.st_mtime_ns
                return (path, size, mtime, f"large:{size}", "!large", None), None
            data = handle.read()
    except OSError:
        return None
    content = digest(data)
    reason = unreadable_reason(data)
    if reason:
        return (path, info.st_size, info.st_mtime_ns, content, f"!{reason}", None), None
    language = detect(path, data[:256])
    name = language.name if language else None
    if is_known(content):
        return (path, info.st_size, info.st_mtime_ns, content, name, None), None
    tags = extract(data, name)
    return (path, info.st_size, info.st_mtime_ns, content, name, marshal.dumps(tags)), tags


@functools.cache
def _store_lookup(store: str) -> Callable[[str], bool]:
    """A worker's own read-only view of the store: is this content already tagged?"""
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return lambda digest: False

    def is_known(digest: str) -> bool:
        try:
            return db.execute("SELECT 1 FROM blobs WHERE hash=?", (digest,)).fetchone() is not None
        except sqlite3.Error:
            return False

    return is_known


def _batch(
    root: str, paths: list[str], store: str, first: int | None
) -> tuple[int, list[Indexed], bytes | None]:
    """Index ``paths``; with ``first`` (the number of the first path), also their share of
    the model."""
    is_known = _store_lookup(store)
    rows = []
    tagged: list[tuple[int, str, str | None, FileTags]] = []
    for number, path in enumerate(paths, first or 0):
        if _stopping is not None and _stopping.is_set():
            break
        found = index_file(root, path, is_known)
        if found is not None:
            row, tags = found
            rows.append(row)
            if tags is not None:
                tagged.append((number, row[3], row[4], tags))
    return len(paths), rows, part(tagged) if first is not None else None


_stopping: Any = None  # in a worker: the pool's stop event, looked at between files


def _start_worker(stopping: Any) -> None:
    """Ctrl-C is the parent's to handle: it sets ``stopping``, and each worker ends its
    batch after the file in hand (no traceback, no waiting for whole batches)."""
    global _stopping
    _stopping = stopping
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def index_files(
    root: Path,
    paths: list[str],
    store: Path,
    is_known: Callable[[str], bool],
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    parts: Parts | None = None,
) -> Iterator[Indexed]:
    """Index ``paths``; many files go to a process pool, a few are done right here.

    With ``parts``, each batch's share of the model (files numbered by their place in
    ``paths``) is handed to it before the batch's rows are yielded.

    Setting ``stop`` ends the build within ``POLL`` seconds with ``Cancelled``, as Ctrl-C
    does with ``KeyboardInterrupt``: the workers drop their queued batches and end the one in
    hand after its current file.
    """
    total = len(paths)
    workers = os.cpu_count() or 1
    # A new Python would import from a workspace folder on Shipmate's sys.path: none is started.
    if total < PARALLEL_FROM or workers < 2 or imports_from(Path(root)):
        tagged: list[tuple[int, str, str | None, FileTags]] = []
        for done, path in enumerate(paths, 1):
            if stop is not None and stop.is_set():
                raise Cancelled
            found = index_file(str(root), path, is_known)
            if found is not None:
                row, tags = found
                if parts is not None and tags is not None:
                    tagged.append((done - 1, row[3], row[4], tags))
                yield row
            if progress:
                progress(done, total)
        if parts is not None:
            parts(part(tagged))  # one share for them all, as a worker's batch would be
        return
    # Workers are forked when nothing else runs threads here (fast); spawned otherwise. A
    # spawned worker is a new Python started in the workspace: without safe_path it would put
    # the workspace first on sys.path and import a planted multiprocessing.py as the user.
    method = "fork" if threading.active_count() == 1 else "spawn"
    os.environ["PYTHONSAFEPATH"] = "1"
    context = multiprocessing.get_context(method)
    batches = range(0, total, BATCH)
    # Workers are asked to stop, never killed: one killed while it sends a result would
    # leave the pool's reader thread waiting for the rest forever, and the exit with it.
    stopping = context.Event()
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(stopping,)
    )
    try:
        # Workers start with Ctrl-C blocked (the mask is inherited) until they ignore it.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pending = {
                pool.submit(
                    _batch,
                    str(root),
                    paths[i : i + BATCH],
                    str(store),
                    None if parts is None else i,
                )
                for i in batches
            }
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        done = 0
        while pending:
            if stop is not None and stop.is_set():
                raise Cancelled
            finished, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            for future in finished:
                count, rows, share = future.result()
                if parts is not None and share is not None:
                    parts(share)
                yield from rows
                done += count
                if progress:
                    progress(done, total)
    finally:
        stopping.set()  # a no-op when all is done; else each worker ends after its file
        pool.shutdown(wait=True, cancel_futures=True)
