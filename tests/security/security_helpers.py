"""What the security tests share: the site of an attack, a snapshot guard, and a shell.

Kept out of conftest.py so test modules can import it by name.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tools.base import ToolContext, ToolResult
from tools.shell import RunCommand

SECRET = "outside secret 7f3a9c: the attacker wants this\n"
HOSTS = Path("/etc/hosts")


@dataclass(frozen=True)
class Site:
    """A temp folder under /var/tmp holding the workspace and what lies outside it."""

    root: Path
    ws: Path
    outside: Path
    home: Path

    @property
    def secret(self) -> Path:
        return self.outside / "secret.txt"


def fingerprint(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` (and ``root`` itself) → its mode and content hash."""
    found: dict[str, tuple[int, str]] = {}
    paths = [root]
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):
            paths += [Path(folder) / name for name in dirs + files]
    for path in paths:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            what = "link to " + os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = ""
        found[str(path)] = (info.st_mode, what)
    return found


class Guard:
    """A snapshot of places outside the workspace; ``check`` fails if any of them changed."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.before = self._take()

    def _take(self) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for path in self.paths:
            found.update(fingerprint(path))
        return found

    def check(self) -> None:
        after = self._take()
        appeared = sorted(set(after) - set(self.before))
        vanished = sorted(set(self.before) - set(after))
        changed = sorted(p for p in set(after) & set(self.before) if after[p] != self.before[p])
        assert not (appeared or vanished or changed), (
            f"outside the workspace: appeared {appeared}, vanished {vanished}, changed {changed}"
        )


async def sh(box: ToolContext, command: str, timeout: float = 20) -> ToolResult:
    """Run ``command`` the way the model would: through the run_command tool."""
    return await RunCommand(command=command, timeout=timeout).run(box)
