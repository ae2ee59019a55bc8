"""Keeping the index current while files change, from a background thread.

watchfiles reports changes in debounced batches, so a branch switch or a formatter run over
the tree arrives as one batch and is re-indexed together. Changes under ``.git`` and in
folders the index never reads are dropped before they cost anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.index.files import VENDORED_DIRS
from agent.index.index import CodeIndex

Listener = Callable[[list[str], float], None]
DEBOUNCE_MS = 50


class IndexWatcher:
    def __init__(self, index: CodeIndex, on_update: Listener | None = None) -> None:
        self.index = index
        self.on_update = on_update
        self._stop = threading.Event()
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
        from watchfiles import watch

        self.ready.set()
        for changes in watch(
            self.index.root,
            watch_filter=self._wanted,
            debounce=DEBOUNCE_MS,
            step=DEBOUNCE_MS,
            stop_event=self._stop,
            yield_on_timeout=False,
            raise_interrupt=False,
        ):
            paths = sorted({self._relative(path) for _, path in changes})
            started = time.perf_counter()
            changed = self.index.update(paths)
            if changed and self.on_update:
                self.on_update(changed, time.perf_counter() - started)

    def _relative(self, path: str) -> str:
        return Path(path).relative_to(self.index.root).as_posix()

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
