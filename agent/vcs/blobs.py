"""Where checkpoints keep the bytes of files: the repository's own object store, or, outside
git, a private folder of the user's data dir.

In git, blobs are written with ``hash-object`` (no filters: the bytes as they were) and kept
alive by a private ref, ``refs/shipmate/<session>``, that names a tree of them all; it is not
a branch, tag or stash, so nothing the user sees changes, and ``git gc`` keeps them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from agent.storage import FILE, private_dir
from agent.vcs import git

_ID = re.compile(r"^[0-9a-f]{40,64}$")


class Blobs(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, blob: str) -> bytes: ...

    def keep(self) -> None:
        """Make what was put survive (in git: point the private ref at it)."""


class GitBlobs:
    def __init__(self, repository: git.Repository, session_id: str) -> None:
        self.repository = repository
        self.ref = f"refs/shipmate/{session_id}"
        self._pending: set[str] = set()
        self._kept: set[str] | None = None  # what the ref holds, once read
        self._ref_id = ""

    def put(self, data: bytes) -> str:
        blob = self.repository.store_blob(data)
        self._pending.add(blob)
        return blob

    def adopt(self, blob: str) -> str:
        """A blob already in the store (the index's version of a file) kept like a new one."""
        self._pending.add(blob)
        return blob

    def get(self, blob: str) -> bytes:
        return self.repository.read_blob(blob)

    def keep(self) -> None:
        if not self._pending:
            return
        repository = self.repository
        if self._kept is None:  # a resumed session: what earlier runs kept
            old = repository.run("rev-parse", "--verify", "--quiet", self.ref)
            self._ref_id = old.stdout.decode().strip() if old.returncode == 0 else ""
            self._kept = set()
            if self._ref_id:
                for entry in repository.check("ls-tree", "-z", self._ref_id).split(b"\0"):
                    if entry:
                        self._kept.add(entry.decode().rsplit("\t", 1)[1])
        if self._pending <= self._kept:
            self._pending.clear()
            return
        kept = self._kept | self._pending
        listing = b"".join(f"100644 blob {blob}\t{blob}\0".encode() for blob in sorted(kept))
        tree = repository.check("mktree", "-z", input=listing).decode().strip()
        repository.check("update-ref", "-m", "shipmate checkpoint", self.ref, tree, self._ref_id)
        self._kept, self._ref_id = kept, tree
        self._pending.clear()


class FileBlobs:
    """Content-addressed copies, 0600 in a 0700 folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, data: bytes) -> str:
        blob = hashlib.sha256(data).hexdigest()
        target = self.folder / blob
        if target.is_file():
            return blob
        private_dir(self.folder)
        temp = self.folder / f".{blob}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return blob

    def get(self, blob: str) -> bytes:
        if not _ID.match(blob):
            raise OSError(f"not a stored version: {blob!r}")
        fd = os.open(self.folder / blob, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def keep(self) -> None:
        """Every copy is on disk once ``put`` returns."""
