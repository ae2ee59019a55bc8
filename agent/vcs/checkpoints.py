"""Checkpoints: what each file was before the agent changed it, turn by turn, so any turn
can be seen (``shipmate diff``) and undone (``shipmate undo``) — with or without git.

Before an edit tool runs, the files it names are saved as they are (the user's uncommitted
changes included, byte for byte). A command cannot say which files it will touch, so in a
git repository the files git reports as changed are read before it and compared after it;
what it changed is saved the same way (outside git, only the edit tools' files are kept).
After every tool the turn's record is stored with each file's state after the agent, which
is what undo compares with to see whether someone else changed the file since.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from agent.index.files import is_artifact
from agent.vcs import git
from agent.vcs.blobs import Blobs, FileBlobs, GitBlobs
from tools.paths import open_inside

if TYPE_CHECKING:
    from agent.session import SessionStore

MAX_FILE_BYTES = 50 * 1024 * 1024
# Before a command, the changed files of a git work tree are held in memory up to this much.
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024


class FileVersion(BaseModel):
    """A file's bytes as stored (``blob``) and their sha256 (``digest``); both None when
    there was no file."""

    blob: str | None = None
    digest: str | None = None
    mode: int = 0o644

    @property
    def exists(self) -> bool:
        return self.digest is not None


class FileChange(BaseModel):
    path: str
    before: FileVersion
    after: FileVersion


class Checkpoint(BaseModel):
    """One user turn's changes. ``commits``: the agent's commits made in it, oldest first."""

    turn: int
    created: float
    request: str
    files: dict[str, FileChange] = {}
    commits: list[str] = []
    undone: bool = False
    told: bool = True  # whether the model knows it was undone


@dataclass
class Read:
    """A file as found on disk now: its bytes (None: absent), or ``unsupported`` (a link, a
    folder, too big) when it is not something a checkpoint keeps."""

    data: bytes | None
    mode: int = 0o644
    unsupported: bool = False

    @property
    def digest(self) -> str | None:
        return None if self.data is None else hashlib.sha256(self.data).hexdigest()


def read_file(workspace: Path, relative: str) -> Read:
    """The regular file ``relative`` under ``workspace``, reached without following links."""
    try:
        fd = open_inside(workspace, relative)
    except FileNotFoundError:
        return Read(None)
    except OSError:
        return Read(None, unsupported=True)
    try:
        info = os.fstat(fd)
        if info.st_size > MAX_FILE_BYTES:
            return Read(None, unsupported=True)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read()
        return Read(data, 0o755 if info.st_mode & stat.S_IXUSR else 0o644)
    finally:
        os.close(fd)


def blob_store(workspace: Path, session_id: str, folder: Path) -> Blobs:
    """The repository's object store when ``workspace`` is a git work tree's root, else
    copies in ``folder``."""
    repository = git.repository(workspace)
    if repository is not None and repository.root == workspace.resolve():
        return GitBlobs(repository, session_id)
    return FileBlobs(folder)


@dataclass
class Snapshot:
    """The git-changed files before a command: their content, or None if too much."""

    files: dict[str, Read] | None


class Recorder:
    """Builds the checkpoints of one session as its tools run (used by the conversation)."""

    def __init__(self, workspace: Path, session_id: str, blobs: Blobs, store: SessionStore):
        self.workspace = workspace
        self.session_id = session_id
        self.blobs = blobs
        self.store = store
        repository = git.repository(workspace)
        self.repository = repository if isinstance(blobs, GitBlobs) else None
        self.current: Checkpoint | None = None
        stored = store.checkpoints(session_id)
        self._turn = stored[-1].turn if stored else 0
        self._request = ""

    def start_turn(self, request: str) -> None:
        """A new user turn: its checkpoint is made at its first change."""
        self.current = None
        self._request = " ".join(request.split())[:200]

    def _checkpoint(self) -> Checkpoint:
        if self.current is None:
            self._turn += 1
            self.current = Checkpoint(turn=self._turn, created=time.time(), request=self._request)
        return self.current

    def _version(self, read: Read) -> FileVersion:
        if read.data is None:
            return FileVersion()
        return FileVersion(blob=self.blobs.put(read.data), digest=read.digest, mode=read.mode)

    def before_edit(self, paths: list[str]) -> None:
        """Keep ``paths`` (relative to the workspace) as they are now, unless this turn kept
        them already."""
        for path in paths:
            if self.current is not None and path in self.current.files:
                continue
            read = read_file(self.workspace, path)
            if read.unsupported:
                continue
            version = self._version(read)
            self._checkpoint().files[path] = FileChange(path=path, before=version, after=version)

    def before_command(self) -> Snapshot | None:
        """What git sees changed before a command (only in a git work tree)."""
        if self.repository is None:
            return None
        try:
            dirty = self.repository.dirty()
        except git.GitError:
            return None
        files: dict[str, Read] | None = {}
        total = 0
        for path in sorted(dirty):
            read = read_file(self.workspace, path)
            total += len(read.data or b"")
            if total > MAX_SNAPSHOT_BYTES:
                files = None
                break
            files[path] = read
        return Snapshot(files)

    def after_command(self, snapshot: Snapshot | None) -> list[str]:
        """Keep what the command changed, as it was before it; the paths kept."""
        if snapshot is None or snapshot.files is None or self.repository is None:
            return []
        try:
            now_dirty = self.repository.dirty()
        except git.GitError:
            return []
        kept: list[str] = []
        candidates = sorted((set(snapshot.files) | now_dirty) - set(self._files()))
        clean = [path for path in candidates if path not in snapshot.files]
        indexed = self._indexed(clean)
        for path in candidates:
            if is_artifact(path):
                continue
            now = read_file(self.workspace, path)
            if now.unsupported:
                continue
            if path in snapshot.files:
                before_read = snapshot.files[path]
                if before_read.unsupported or before_read.digest == now.digest:
                    continue
                before = self._version(before_read)
            elif path in indexed:
                mode, blob = indexed[path]
                data = self.repository.read_blob(blob)
                if hashlib.sha256(data).hexdigest() == now.digest:
                    continue
                assert isinstance(self.blobs, GitBlobs)
                before = FileVersion(
                    blob=self.blobs.adopt(blob),
                    digest=hashlib.sha256(data).hexdigest(),
                    mode=0o755 if mode == "100755" else 0o644,
                )
            else:
                before = FileVersion()  # not there before: the command created it
            self._checkpoint().files[path] = FileChange(path=path, before=before, after=before)
            kept.append(path)
        return kept

    def _files(self) -> list[str]:
        return list(self.current.files) if self.current is not None else []

    def _indexed(self, paths: list[str]) -> dict[str, tuple[str, str]]:
        """The index's (mode, blob) of those ``paths`` git tracks as regular files."""
        if not paths or self.repository is None:
            return {}
        found: dict[str, tuple[str, str]] = {}
        output = b""
        for chunk in git.chunks(paths):
            done = self.repository.run("--literal-pathspecs", "ls-files", "-s", "-z", "--", *chunk)
            if done.returncode != 0:
                raise git.GitError("git ls-files failed")
            output += done.stdout
        for entry in output.split(b"\0"):
            if not entry:
                continue
            info, _, name = entry.decode(errors="surrogateescape").partition("\t")
            mode, blob, stage = info.split()
            if stage == "0" and mode in ("100644", "100755"):
                found[os.fsdecode(name.encode(errors="surrogateescape"))] = (mode, blob)
        return found

    def settle(self) -> None:
        """After a tool: each kept file's state now is the agent's (``save`` stores it,
        from the thread that owns the store)."""
        checkpoint = self.current
        if checkpoint is None:
            return
        for path, change in checkpoint.files.items():
            read = read_file(self.workspace, path)
            if read.unsupported:
                continue
            if read.digest != change.after.digest or read.mode != change.after.mode:
                change.after = self._version(read)
        with contextlib.suppress(git.GitError, OSError):
            self.blobs.keep()

    def save(self) -> None:
        if self.current is not None:
            self.store.save_checkpoint(self.session_id, self.current)

    def changed(self) -> list[str]:
        """Files the agent changed in this session (turns not undone), in order."""
        found: dict[str, None] = {}
        for checkpoint in self.store.checkpoints(self.session_id):
            if not checkpoint.undone:
                found.update(
                    (path, None)
                    for path, change in checkpoint.files.items()
                    if change.before.digest != change.after.digest
                    or change.before.mode != change.after.mode
                )
        return list(found)

    def untold_undos(self) -> list[Checkpoint]:
        """Turns undone since the model was last told (by ``shipmate undo`` too), now told."""
        found = [c for c in self.store.checkpoints(self.session_id) if c.undone and not c.told]
        for checkpoint in found:
            checkpoint.told = True
            self.store.save_checkpoint(self.session_id, checkpoint)
        return found

    def add_commit(self, commit: str) -> None:
        checkpoint = self._checkpoint()
        checkpoint.commits.append(commit)
        self.store.save_checkpoint(self.session_id, checkpoint)
