"""``shipmate`` as a person starts it: the real command in a pseudo-terminal, a message
answered on screen, Ctrl+C twice to leave, and the summary printed into the scrollback after
the app's screen is gone."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from helpers import identity
from scripted_llm import Reply, ScriptedLLM

ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class Terminal:
    """A child process on a 120x40 pseudo-terminal, its output collected as plain text."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.raw = b""

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child is gone
                    return
                if not chunk:
                    return
                self.raw += chunk

    @property
    def text(self) -> str:
        return ESCAPES.sub("", self.raw.decode("utf-8", "replace"))

    def wait_for(self, words: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while words not in self.text:
            assert time.monotonic() < deadline, f"{words!r} never showed: {self.text[-2000:]!r}"
            self.read(0.1)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())


def test_a_person_starts_asks_and_leaves(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    llm.add(Reply(text="Hello from the scripted model."))
    env = {**os.environ, "TERM": "xterm-256color", "OPENAI_API_KEY": "sk-test"}
    argv = [sys.executable, "-m", "agent", "-m", "openai/scripted", "--api-base", llm.url]
    terminal = Terminal(argv, repo, env)
    try:
        terminal.wait_for("Ask Shipmate")
        terminal.wait_for("sandbox")  # the session is ready (litellm imported)
        terminal.type("say hello\r")
        terminal.wait_for("Hello from the scripted model.")
        terminal.type("\x03")
        terminal.wait_for("Press Ctrl+C again to quit.")
        terminal.type("\x03")
        assert terminal.process.wait(timeout=20) == 0
        terminal.read(0.5)
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
        os.close(terminal.master)
    after = terminal.raw.rsplit(b"\x1b[?1049l", 1)[-1].decode()  # what stays in the scrollback
    assert "resume with: shipmate --resume" in after, after
    assert "error" not in after.lower() and "Traceback" not in terminal.text
