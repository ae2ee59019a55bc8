"""Keeping the index current while files change, from a background thread.

watchfiles reports changes in debounced batches, so a branch switch or a formatter run over
the tree arrives as one batch and is re-indexed together. Changes under ``.git`` and in
folders the index never reads are dropped before they cost anything. A folder moved, copied
or deleted as a whole may be reported as that folder alone: it stands for the files in it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, watch

from agent.index.files import VENDORED_DIRS
from agent.index.index import CodeIndex
from tools.names import safe_text

Listener = Callable[[list[str], float], None]
DEBOUNCE_MS = 50
READY_MS = 200


class IndexWatcher:
    def __init__(self, index: CodeIndex, on_update: Listener | None = None) -> None:
        self.index = index
        self.on_update = on_update
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(
            target=self._run, name="shipmate-index-watcher", daemon=True
        )
        self.ready = threading.Event()

    def start(self) -> IndexWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True while the watcher still runs."""
        self._thread.join(timeout=seconds)
        return self._thread.is_alive()

    def _run(self) -> None:
        for changes in watch(
            self.index.root,
            watch_filter=self._wanted,
            debounce=DEBOUNCE_MS,
            step=DEBOUNCE_MS,
            stop_event=self._stop,
            rust_timeout=READY_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            # The first yield, even an empty one on a timeout, comes once watching has begun.
            self.ready.set()
            if not changes:
                continue
            paths = self._files({(change, self._relative(path)) for change, path in changes})
            started = time.perf_counter()
            try:
                changed = self.index.update(paths)
            except Exception as error:  # keep watching: the next refresh() catches up
                self.error = f"index update failed: {error}"
                continue
            if changed and self.on_update:
                self.on_update(changed, time.perf_counter() - started)

    def _relative(self, path: str) -> str:
        return Path(path).relative_to(self.index.root).as_posix()

    def _files(self, changes: set[tuple[Change, str]]) -> list[str]:
        """The changed files: a folder added stands for the files in it, a folder gone for
        those the index has in it."""
        root = self.index.root
        files: set[str] = set()
        gone: list[str] = []
        for change, path in changes:
            full = root / path
            if full.is_dir():
                if change != Change.added or full.is_symlink():
                    continue
                for folder, dirs, names in os.walk(full):
                    dirs[:] = [name for name in dirs if name not in VENDORED_DIRS]
                    here = Path(folder).relative_to(root).as_posix()
                    files.update(f"{here}/{name}" for name in names)
            else:
                files.add(path)
                if safe_text(path) not in self.index.rows and not full.exists():
                    gone.append(safe_text(path) + "/")  # perhaps a folder, moved away or deleted
        if gone:
            with self.index.lock:
                prefixes = tuple(gone)
                files.update(known for known in self.index.rows if known.startswith(prefixes))
        return sorted({safe_text(path) for path in files})

    def _wanted(self, _change: object, path: str) -> bool:
        try:
            parts = Path(path).relative_to(self.index.root).parts
        except ValueError:
            return False
        return bool(parts) and parts[0] != ".git" and not VENDORED_DIRS.intersection(parts)


def watch_forever(index: CodeIndex, on_update: Listener) -> None:
    """Watch until Ctrl-C (``shipmate index --watch``)."""
    watcher = IndexWatcher(index, on_update).start()
    try:
        while watcher.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
