"""The index on disk: SQLite in the user's cache folder, never in the repository.

Tags are stored per file content (``blobs``, keyed by a hash of the bytes), and each
repository maps its paths to contents with the size and mtime last seen (``files``). So a
branch switch back and forth, or a ``touch``, re-parses nothing, and a warm start that finds
every size and mtime unchanged reads no file at all. ``snapshots`` hold the whole in-memory
model of a repository, keyed by a fingerprint of its files, so a warm start loads it in one
read. A damaged or foreign database is moved aside and rebuilt; a locked one is bypassed
with an in-memory database for this run.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import platformdirs

SCHEMA_VERSION = 1
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
CREATE TABLE IF NOT EXISTS snapshots (
    repo INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    data BLOB NOT NULL
);
"""

FileRow = tuple[int, int, str, str | None]  # size, mtime_ns, hash, language


def default_path() -> Path:
    return platformdirs.user_cache_path("shipmate") / "index.sqlite"


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.problem: str | None = None
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(str(self.path))
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                self.problem = f"the index database is busy ({error}); using a temporary one"
                return self._connect(":memory:")
            return self._rebuild(error)
        except (sqlite3.DatabaseError, OSError) as error:
            return self._rebuild(error)

    def _rebuild(self, error: Exception) -> sqlite3.Connection:
        """Move a damaged database aside and start a fresh one (it is only a cache)."""
        self.problem = f"the index database was damaged ({error}) and is rebuilt"
        with contextlib.suppress(OSError):
            self.path.replace(self.path.with_name(f"{self.path.name}.broken-{int(time.time())}"))
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                self.path.with_name(self.path.name + suffix).unlink()
        try:
            return self._connect(str(self.path))
        except (sqlite3.DatabaseError, OSError):
            return self._connect(":memory:")

    @staticmethod
    def _connect(where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=10.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            db.close()
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("SELECT count(*) FROM files").fetchone()
        return db

    def repo_id(self, root: Path) -> int:
        self.db.execute("INSERT OR IGNORE INTO repos (root) VALUES (?)", (str(root),))
        return self.db.execute("SELECT id FROM repos WHERE root=?", (str(root),)).fetchone()[0]

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

    def snapshot(self, repo: int, fingerprint: str) -> bytes | None:
        row = self.db.execute(
            "SELECT data FROM snapshots WHERE repo=? AND fingerprint=?", (repo, fingerprint)
        ).fetchone()
        return row[0] if row else None

    def save_snapshot(self, repo: int, fingerprint: str, data: bytes) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (repo, fingerprint, data)
            )

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
