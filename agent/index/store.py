"""The index on disk: SQLite in the user's cache folder, never in the repository.

Tags are stored per file content (``blobs``, keyed by a hash of the bytes), and each
repository maps its paths to contents with the size and mtime last seen (``files``). So a
branch switch back and forth, or a ``touch``, re-parses nothing, and a warm start that finds
every size and mtime unchanged reads no file at all. ``snapshots`` hold each repository's
in-memory model as last saved, so a warm start loads it in one read and replays only the
files that changed since. A damaged or foreign database is moved aside and rebuilt; a
locked one, or one that cannot be written (a read-only home, a full disk), is bypassed with
an in-memory copy for this run. The database and its folder
are private to the user (0600, 0700): they hold the repository's code.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import platformdirs

from agent.storage import private_database, private_dir

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS repos (id INTEGER PRIMARY KEY, root TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    repo INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    language TEXT,
    PRIMARY KEY (repo, path)
);
CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, data BLOB NOT NULL, used REAL);
CREATE TABLE IF NOT EXISTS snapshots (repo INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""

FileRow = tuple[int, int, str, str | None]  # size, mtime_ns, hash, language


def default_path() -> Path:
    return platformdirs.user_cache_path("shipmate") / "index.sqlite"


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.problem: str | None = None
        self.in_memory = False
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            private_dir(self.path.parent)
            private_database(self.path)
        except OSError as error:
            return self._copy_in_memory(_unwritable(self.path, error))
        try:
            return self._connect(str(self.path))
        except sqlite3.OperationalError as error:
            if _busy(error):
                return self._copy_in_memory(_busy_problem(error))
            if _cannot_write(error):
                return self._copy_in_memory(_unwritable(self.path, error))
            return self._rebuild(error)
        except sqlite3.DatabaseError as error:
            return self._rebuild(error)

    def _copy_in_memory(self, problem: str) -> sqlite3.Connection:
        """The database cannot take writes (another process holds the lock, or the folder
        is read-only): this run works on a copy in memory.

        Reading usually still works, so the copy keeps what the store knows and the run
        stays warm; failing that, it starts from nothing.
        """
        self.problem = problem
        self.in_memory = True
        # In a read-only folder SQLite cannot make the WAL's shared-memory file, so the
        # database is then read as immutable (nothing can be writing it there).
        for mode in ("mode=ro", "immutable=1"):
            memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            try:
                source = sqlite3.connect(f"{self.path.resolve().as_uri()}?{mode}", uri=True)
                try:
                    source.backup(memory)
                finally:
                    source.close()
                _prepare(memory)
                return memory
            except sqlite3.Error:
                memory.close()
        return self._connect(":memory:")

    def _write(self, work: Callable[[], object]) -> None:
        """Run a write; if the lock stays busy past the timeout, or the disk refuses it
        (full, read-only), move to a copy in memory."""
        try:
            work()
        except sqlite3.OperationalError as error:
            if self.in_memory:
                raise
            if _busy(error):
                problem = _busy_problem(error)
            elif _cannot_write(error):
                problem = _unwritable(self.path, error)
            else:
                raise
            self.db.close()
            self.db = self._copy_in_memory(problem)
            work()

    def _rebuild(self, error: Exception) -> sqlite3.Connection:
        """Move a damaged database aside and start a fresh one (it is only a cache)."""
        self.problem = f"the index database was damaged ({error}) and is rebuilt"
        with contextlib.suppress(OSError):
            self.path.replace(self.path.with_name(f"{self.path.name}.broken-{int(time.time())}"))
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                self.path.with_name(self.path.name + suffix).unlink()
        try:
            private_database(self.path)
            return self._connect(str(self.path))
        except (sqlite3.DatabaseError, OSError):
            return self._connect(":memory:")

    @staticmethod
    def _connect(where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def repo_id(self, root: Path) -> int:
        query = "SELECT id FROM repos WHERE root=?"
        row = self.db.execute(query, (str(root),)).fetchone()
        if row is None:  # a write only for a repository never seen (a warm start writes none)
            self._write(
                lambda: self.db.execute(
                    "INSERT OR IGNORE INTO repos (root) VALUES (?)", (str(root),)
                )
            )
            row = self.db.execute(query, (str(root),)).fetchone()
        return row[0]

    def files(self, repo: int) -> dict[str, FileRow]:
        rows = self.db.execute(
            "SELECT path, size, mtime_ns, hash, language FROM files WHERE repo=?", (repo,)
        )
        return {
            path: (size, mtime, digest, language) for path, size, mtime, digest, language in rows
        }

    def has(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM blobs WHERE hash=?", (digest,)).fetchone() is not None

    def blobs(self, hashes: Iterable[str]) -> dict[str, bytes]:
        wanted = list(set(hashes))
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT hash, data FROM blobs WHERE hash IN ({marks})"
            found.update(self.db.execute(query, chunk).fetchall())
        return found

    def save(
        self,
        repo: int,
        files: dict[str, FileRow],
        removed: Iterable[str],
        blobs: dict[str, bytes],
    ) -> None:
        """Record changed files and new contents in one transaction."""
        now = time.time()
        removed = list(removed)

        def write() -> None:
            with self._transaction():
                self.db.executemany(
                    "INSERT OR REPLACE INTO blobs (hash, data, used) VALUES (?, ?, ?)",
                    [(digest, data, now) for digest, data in blobs.items()],
                )
                self.db.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                    [(repo, path, *row) for path, row in files.items()],
                )
                self.db.executemany(
                    "DELETE FROM files WHERE repo=? AND path=?", [(repo, path) for path in removed]
                )

        self._write(write)

    def snapshot(self, repo: int) -> bytes | None:
        row = self.db.execute("SELECT data FROM snapshots WHERE repo=?", (repo,)).fetchone()
        return row[0] if row else None

    def save_snapshot(self, repo: int, data: bytes) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (repo, data))

    @contextlib.contextmanager
    def _transaction(self):  # type: ignore[no-untyped-def]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


def _busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def _busy_problem(error: sqlite3.Error) -> str:
    return f"the index database is busy ({error}); this run uses a temporary copy"


def _cannot_write(error: sqlite3.OperationalError) -> bool:
    """SQLite's words for a file or folder it may not write, or a full disk."""
    text = str(error)
    return any(
        words in text
        for words in ("readonly", "unable to open", "disk is full", "disk I/O", "read-only")
    )


def _unwritable(path: Path, error: OSError | sqlite3.Error) -> str:
    """What could not be written, where, and what still works."""
    if isinstance(error, sqlite3.Error):  # SQLite's words are vague; ask the file system
        try:
            tempfile.TemporaryFile(dir=path.parent).close()
        except OSError as refused:
            error = refused
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return (
        f"the code index could not be saved in {path.parent} ({reason}); it is built in "
        "memory and works as usual, but is not kept for the next command. Make that folder "
        "writable, or point XDG_CACHE_HOME to one that is"
    )


def _prepare(db: sqlite3.Connection) -> None:
    """Check the schema version; create the tables only in a new database (a write)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
    if version == 0:
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.execute("SELECT count(*) FROM files").fetchone()
