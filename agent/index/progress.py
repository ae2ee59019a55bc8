"""Index progress on stderr, so a long build is never silent.

On a terminal one line is redrawn in place; elsewhere (a log, CI, a pipe) a line is
printed every few seconds, and none at all for a build shorter than that.
"""

from __future__ import annotations

import time
from typing import TextIO

from agent.terminal import write_trusted

LINE_EVERY = 3.0  # seconds between lines when stderr is not a terminal
REDRAW_EVERY = 0.1  # seconds between redraws on a terminal


class ProgressLine:
    def __init__(self, stream: TextIO, every: float = LINE_EVERY) -> None:
        self.stream = stream
        self.every = every
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.shown = self.started
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.tty:
            if done == total:
                self.finish()
            elif now - self.shown >= REDRAW_EVERY:
                # Shipmate's own ``\r``, past the terminal filter.
                write_trusted(self.stream, f"\rIndexing {done:,}/{total:,} files")
                self.shown, self.drawn = now, True
        elif now - self.shown >= self.every or (done == total and self.shown > self.started):
            # The last line of a long build says what the wait after it is for.
            after = "; saving the index" if done == total else ""
            seconds = now - self.started
            line = f"Indexing: {done:,}/{total:,} files ({seconds:.0f} s){after}"
            print(line, file=self.stream)
            self.stream.flush()
            self.shown = now

    def finish(self) -> None:
        """Erase the redrawn line (done, or interrupted), so what follows starts clean."""
        if self.drawn:
            write_trusted(self.stream, "\r" + " " * 40 + "\r")
            self.drawn = False
