"""The index in memory, shaped for ranking: postings, definitions and the file graph.

Everything here is plain dicts of strings and numbers, so the whole model is saved with
``marshal`` in one piece, and updated file by file in place (a save in the editor). A warm
start loads it in a few milliseconds: each table's rows stay packed in small buckets until a
request reads one (``Table``; SymPy's 12 MB snapshot took 0.11 s to load whole). The graph
has an edge from a file that references an identifier to each file that defines it;
changing one file recomputes its own edges and those of the files that reference a name
whose definitions moved.
"""

from __future__ import annotations

import marshal
import math
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from agent.index.tags import FileTags, split_identifier

FORMAT = 7


class Paths:
    """Small stable numbers for paths, so an encoded row is short and holds no path text."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names = names or []
        self.ids = {name: number for number, name in enumerate(self.names)}

    def id(self, path: str) -> int:
        number = self.ids.get(path)
        if number is None:
            number = self.ids[path] = len(self.names)
            self.names.append(path)
        return number


Numbered = dict[int, Any]  # a row as saved: path number → value


class Table:
    """A table of key → {path: number} whose rows are read from their saved form only when
    one is used.

    Saved, the rows (keyed by path number) are packed in buckets of about ``BUCKET_ROWS`` by
    a hash of their key (``Packed``: the number of buckets, and each one's rows), so a warm
    start unpacks only the buckets holding the few keys a request asks for, not the hundreds
    of thousands of entries a big repository has (unpacking them all was a third of a warm
    ``map``). An unpacked row gets its paths back when it is read.
    """

    def __init__(self, paths: Paths, packed: Packed | None = None) -> None:
        self.paths = paths
        self._buckets, self._packed = packed or (0, {})  # bucket → marshal of {key: row}
        self._numbered: dict[str, Numbered] = {}  # unpacked, not yet read
        self._rows: dict[str, dict[str, Any]] = {}

    def _unpack(self, key: str) -> None:
        if self._packed:
            data = self._packed.pop(bucket(key, self._buckets), None)
            if data is not None:
                self._numbered.update(marshal.loads(data))

    def _unpack_all(self) -> None:
        for data in self._packed.values():
            self._numbered.update(marshal.loads(data))
        self._packed = {}

    def _named(self, row: Numbered) -> dict[str, Any]:
        names = self.paths.names
        return {names[number]: value for number, value in row.items()}

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._rows.get(key)
        if row is None:
            self._unpack(key)
            numbered = self._numbered.pop(key, None)
            if numbered is None:
                return None
            row = self._rows[key] = self._named(numbered)
        return row

    def row(self, key: str) -> dict[str, Any]:
        """The row for ``key``, created empty if missing."""
        row = self._rows.get(key)
        if row is None:
            self._unpack(key)
            numbered = self._numbered.pop(key, None)
            row = self._rows[key] = {} if numbered is None else self._named(numbered)
        return row

    def put(self, key: str, row: dict[str, Any]) -> None:
        self._unpack(key)
        self._numbered.pop(key, None)
        self._rows[key] = row

    def drop(self, key: str) -> None:
        self._unpack(key)
        self._numbered.pop(key, None)
        self._rows.pop(key, None)

    def discard(self, key: str, path: str) -> None:
        """Remove one path from a row, and the row once it is empty."""
        row = self.get(key)
        if row is not None:
            row.pop(path, None)
            if not row:
                del self._rows[key]

    def __contains__(self, key: str) -> bool:
        self._unpack(key)
        return key in self._rows or key in self._numbered

    def __len__(self) -> int:
        self._unpack_all()
        return len(self._rows) + len(self._numbered)

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        """Every row, read (for whole-graph work such as a cold link)."""
        self._unpack_all()
        for key in list(self._numbered):
            self.get(key)
        return list(self._rows.items())

    def add_column(self, path: str, values: dict[str, Any]) -> None:
        """``path``'s value in the row of each key of ``values`` (a file's words, at once)."""
        rows = self._rows
        new = not self._packed and not self._numbered  # a key not in ``rows`` is in no row
        for key, value in values.items():
            row = rows.get(key)
            if row is not None:
                row[path] = value
            elif new:
                rows[key] = {path: value}
            else:
                self.row(key)[path] = value

    def pack(self) -> Packed:
        """The table as saved: the buckets never unpacked stay as they were."""
        ids = self.paths.ids
        numbered = dict(self._numbered)
        for key, row in self._rows.items():
            if row:
                numbered[key] = {ids[path]: value for path, value in row.items()}
        buckets, packed = pack(numbered, self._buckets)
        return buckets, {**self._packed, **packed}


Packed = tuple[int, dict[int, bytes]]
# Rows a bucket holds on average: fewer make more buckets to load and encode one by one;
# more make each look-up unpack more rows it does not need.
BUCKET_ROWS = 16


def pack(rows: dict[str, Numbered], buckets: int = 0) -> Packed:
    """Rows in their buckets, as a table is saved: as many buckets as the table was loaded
    with (so those never unpacked stay valid), or enough for these rows."""
    buckets = buckets or max(1, len(rows) // BUCKET_ROWS)
    found: dict[int, dict[str, Numbered]] = {}
    for key, row in rows.items():
        number = bucket(key, buckets)
        group = found.get(number)
        if group is None:
            found[number] = {key: row}
        else:
            group[key] = row
    return buckets, {number: marshal.dumps(group) for number, group in found.items()}


def bucket(key: str, buckets: int) -> int:
    """A key's bucket in a saved table; the same in every process (``hash`` is not)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % buckets


TABLES = ("postings", "defined", "def_terms", "referenced", "edges", "top_level")
SHARED_TABLES = tuple(name for name in TABLES if name != "edges")  # a part's; edges come after


class Model:
    def __init__(self) -> None:
        self.files: dict[str, tuple[str, str | None, int]] = {}  # path → hash, language, length
        self.paths = Paths()
        self.postings = Table(self.paths)  # term → path → count
        self.defined = Table(self.paths)  # name → path → definitions there
        self.def_terms = Table(self.paths)  # term of a defined name → path → count
        self.referenced = Table(self.paths)  # name → path → uses
        self.edges = Table(self.paths)  # path → path it depends on → weight
        self.top_level = Table(self.paths)  # name defined outside any other → path → count
        self.broken: dict[str, bool] = {}  # paths whose last parse had syntax errors
        self.definitions = 0
        self._path_index: dict[str, set[str]] | None = None  # see ``path_index``

    def dump(self) -> bytes:
        for path in self.files:
            self.paths.id(path)
        tables = [getattr(self, name).pack() for name in TABLES]
        ids = self.paths.ids
        index = {term: [ids[path] for path in found] for term, found in self.path_index().items()}
        return marshal.dumps(
            (FORMAT, self.files, self.broken, self.definitions, self.paths.names, index, *tables)
        )

    @classmethod
    def load(cls, data: bytes) -> Model | None:
        try:
            loaded = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        if not isinstance(loaded, tuple) or not loaded or loaded[0] != FORMAT:
            return None
        model = cls()
        _, model.files, model.broken, model.definitions, names, index, *tables = loaded
        model.paths = Paths(names)
        model._path_index = {term: {names[n] for n in found} for term, found in index.items()}
        for name, packed in zip(TABLES, tables, strict=True):
            setattr(model, name, Table(model.paths, packed))
        return model

    def path_index(self) -> dict[str, set[str]]:
        """Each search term of a path (``path_terms``) → the files whose path has it. Saved
        with the model: every request looks terms up in it, and building it is a tenth of a
        warm ``map`` on SymPy."""
        if self._path_index is None:
            index: dict[str, set[str]] = {}
            folders: dict[str, list[str]] = {}  # a folder's terms, shared by its files
            for path in self.files:
                folder, _, name = path.rpartition("/")
                terms = folders.get(folder)
                if terms is None:
                    terms = folders[folder] = path_terms(folder) if folder else []
                for term in (*terms, *path_terms(name)):
                    index.setdefault(term, set()).add(path)
            self._path_index = index
        return self._path_index

    def add(self, path: str, digest: str, language: str | None, tags: FileTags) -> set[str]:
        """Add a file's tags (not yet linked); returns the names it defines."""
        defs, refs, words, broken = tags
        if path not in self.files:
            self._path_index = None
        self.files[path] = (digest, language, sum(words.values()))
        self.definitions += len(defs)
        if broken:
            self.broken[path] = True
        self.postings.add_column(path, words)
        names: set[str] = set()
        for name, _, _, _, parent, _ in defs:
            holders = self.defined.row(name)
            holders[path] = holders.get(path, 0) + 1
            names.add(name)
            if parent < 0:
                tops = self.top_level.row(name)
                tops[path] = tops.get(path, 0) + 1
        for name in names:
            for term in split_identifier(name):
                if len(term) > 1:
                    holders = self.def_terms.row(term)
                    holders[path] = holders.get(path, 0) + 1
        self.referenced.add_column(path, refs)
        return names

    def remove(self, path: str, tags: FileTags) -> set[str]:
        """Take a file's tags out again; returns the names it defined."""
        defs, refs, words, _ = tags
        if self.files.pop(path, None) is not None:
            self._path_index = None
        self.broken.pop(path, None)
        self.edges.drop(path)
        self.definitions -= len(defs)
        for term in words:
            self.postings.discard(term, path)
        names = {name for name, *_ in defs}
        for name in names:
            self.defined.discard(name, path)
            self.top_level.discard(name, path)
            for term in split_identifier(name):
                self.def_terms.discard(term, path)
        for name in refs:
            self.referenced.discard(name, path)
        return names

    def update(
        self,
        path: str,
        old: FileTags | None,
        new: tuple[str, str | None, FileTags] | None,
    ) -> None:
        """Replace a file's tags (``old`` → ``new``: digest, language, tags) with the graph
        kept exact: only edges that involve a name whose definitions moved are adjusted."""
        index, known = self._path_index, path in self.files
        old_names = {name for name, *_ in old[0]} if old else set()
        new_names = {name for name, *_ in new[2][0]} if new else set()
        moved = old_names ^ new_names
        self._shift(moved, path, -1)
        if old is not None:
            self.remove(path, old)
        self.edges.drop(path)
        if new is not None:
            digest, language, tags = new
            self.add(path, digest, language, tags)
            self.edges.put(
                path, self._edges_of(path, {n: c for n, c in tags[1].items() if n in self.defined})
            )
        self._shift(moved, path, +1)
        if known and path in self.files:
            self._path_index = index  # the same paths: a saved file keeps the index

    def _shift(self, names: set[str], changed: str, sign: int) -> None:
        """Add (or take back) what ``names`` contribute to the edges of the files using them."""
        for name in names:
            holders = self.defined.get(name)
            if not holders:
                continue
            share = link_share(name, len(holders))
            for user, count in (self.referenced.get(name) or {}).items():
                if user == changed:
                    continue
                edges = self.edges.row(user)
                for holder in holders:
                    if holder == user:
                        continue
                    weight = edges.get(holder, 0.0) + sign * share * math.sqrt(count)
                    if weight > 1e-9:
                        edges[holder] = weight
                    else:
                        edges.pop(holder, None)

    def link_all(self) -> None:
        """Build every edge at once, name by name (a cold start)."""
        self.edges = Table(self.paths)
        for path, out in link(self.referenced.items(), self.defined.get, self.files).items():
            self.edges.put(path, out)

    def _edges_of(self, path: str, uses: dict[str, int]) -> dict[str, float]:
        """Weighted edges from ``path`` to the files defining what it references."""
        out: dict[str, float] = {}
        for name, count in uses.items():
            holders = self.defined.get(name) or {}
            weight = link_share(name, len(holders)) * math.sqrt(count)
            for holder in holders:
                if holder != path:
                    out[holder] = out.get(holder, 0.0) + weight
        return out


class Assembly:
    """A model put together from parts built in parallel (a cold build).

    Each worker adds its files to a model of its own (``part``), keyed by the files'
    numbers in ``names``; here the parts' rows are merged and encoded once, still keyed by
    number, so this process never handles a file's terms one by one.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.files: dict[int, tuple[str, str | None, int]] = {}
        self.broken: dict[int, bool] = {}
        self.definitions = 0
        self.tables: dict[str, dict[str, dict[int, Any]]] = {name: {} for name in SHARED_TABLES}

    def merge(self, data: bytes) -> None:
        files, broken, definitions, tables = marshal.loads(data)
        self.files.update(files)
        self.broken.update(broken)
        self.definitions += definitions
        for name, rows in zip(SHARED_TABLES, tables, strict=True):
            merged = self.tables[name]
            for key, row in rows.items():
                have = merged.get(key)
                if have is None:
                    merged[key] = row
                else:
                    have.update(row)  # the parts hold different files

    def model(self) -> Model:
        """The whole model, once: each table's rows are let go as soon as they are packed,
        so the build's peak memory holds them once."""
        names = self.names
        model = Model()
        model.paths = Paths(list(names))  # later files are numbered after these
        model.files = {names[number]: entry for number, entry in self.files.items()}
        model.broken = {names[number]: True for number in self.broken}
        model.definitions = self.definitions
        tables, self.tables = self.tables, {}
        edges = link(tables["referenced"].items(), tables["defined"].get, self.files)
        tables["edges"] = {names[number]: out for number, out in edges.items()}
        del edges
        for name in list(tables):
            rows = tables.pop(name)
            setattr(model, name, Table(model.paths, pack({k: r for k, r in rows.items() if r})))
        return model


def part(files: list[tuple[int, str, str | None, FileTags]]) -> bytes:
    """Some files' share of a model, for ``Assembly.merge``: a model of their own, with
    each file's number in place of its path."""
    model = Model()
    for number, digest, language, tags in files:
        model.add(number, digest, language, tags)  # type: ignore[arg-type]
    tables = [getattr(model, name)._rows for name in SHARED_TABLES]
    return marshal.dumps((model.files, model.broken, model.definitions, tables))


def link(
    referenced: Iterable[tuple[str, dict[Any, int]]],
    defined: Callable[[str], dict[Any, int] | None],
    files: Iterable[Any],
) -> dict[Any, dict[Any, float]]:
    """The edges of every file (by path or by number): to each file defining a name it uses."""
    edges: dict[Any, dict[Any, float]] = {path: {} for path in files}
    for name, users in referenced:
        holders = defined(name)
        if not holders:
            continue
        share = link_share(name, len(holders))
        for user, count in users.items():
            out = edges.get(user)
            if out is None:
                continue
            weight = share * math.sqrt(count)
            for holder in holders:
                if holder != user:
                    out[holder] = out.get(holder, 0.0) + weight
    return edges


def path_terms(path: str) -> list[str]:
    """Search terms of a path: its folders and file name, split like identifiers."""
    terms = []
    for part in path.split("/"):
        stem = part.rsplit(".", 1)[0] if "." in part[1:] else part
        for piece in stem.replace("-", "_").split("."):
            terms.extend(term for term in split_identifier(piece) if len(term) > 1)
    return terms


def link_share(name: str, holders: int) -> float:
    """What one use of ``name`` adds to the edge to each of the ``holders`` defining it."""
    return specificity(name, holders) / holders


def specificity(name: str, holders: int) -> float:
    """How much a shared identifier says about a link: long, rare and public names say more.

    ``len`` or ``x`` (short), ``_helper`` (private) or a name defined in many files (a common
    method such as ``__init__`` or ``run``) link files only loosely.
    """
    weight = min(len(name), 12) / 6
    if name.startswith("_"):
        weight *= 0.1
    if any(c.isupper() for c in name[1:]) or "_" in name.strip("_"):
        weight *= 2
    return weight / (1 + math.log(holders))
