"""The index in memory, shaped for ranking: postings, definitions and the file graph.

Everything here is plain dicts of strings and numbers, so the whole model is saved and
loaded with ``marshal`` in one piece (a warm start), and updated file by file in place (a
save in the editor). The graph has an edge from a file that references an identifier to each
file that defines it; changing one file recomputes its own edges and those of the files that
reference a name whose definitions moved.
"""

from __future__ import annotations

import marshal
import math
from typing import Any

from agent.index.tags import FileTags, split_identifier

FORMAT = 1


class Model:
    def __init__(self) -> None:
        self.files: dict[str, tuple[str, str | None, int]] = {}  # path → hash, language, length
        self.postings: dict[str, dict[str, int]] = {}  # term → path → count
        self.defined: dict[str, dict[str, int]] = {}  # name → path → definitions there
        self.def_terms: dict[str, dict[str, int]] = {}  # term of a defined name → path → count
        self.referenced: dict[str, dict[str, int]] = {}  # name → path → uses
        self.edges: dict[str, dict[str, float]] = {}  # path → path it depends on → weight
        self.broken: dict[str, bool] = {}  # paths whose last parse had syntax errors

    def dump(self) -> bytes:
        return marshal.dumps(
            (FORMAT, self.files, self.postings, self.defined, self.def_terms, self.referenced,
             self.edges, self.broken)
        )  # fmt: skip

    @classmethod
    def load(cls, data: bytes) -> Model | None:
        try:
            loaded = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        if not isinstance(loaded, tuple) or not loaded or loaded[0] != FORMAT:
            return None
        model = cls()
        (_, model.files, model.postings, model.defined, model.def_terms, model.referenced,
         model.edges, model.broken) = loaded  # fmt: skip
        return model

    def add(self, path: str, digest: str, language: str | None, tags: FileTags) -> set[str]:
        """Add a file's tags (not yet linked); returns the names it defines."""
        defs, refs, words, broken = tags
        self.files[path] = (digest, language, sum(words.values()))
        if broken:
            self.broken[path] = True
        for term, count in words.items():
            self.postings.setdefault(term, {})[path] = count
        names: set[str] = set()
        for name, *_ in defs:
            holders = self.defined.setdefault(name, {})
            holders[path] = holders.get(path, 0) + 1
            names.add(name)
        for name in names:
            for term in split_identifier(name):
                if len(term) > 1:
                    holders = self.def_terms.setdefault(term, {})
                    holders[path] = holders.get(path, 0) + 1
        for name, count in refs.items():
            self.referenced.setdefault(name, {})[path] = count
        return names

    def remove(self, path: str, tags: FileTags) -> set[str]:
        """Take a file's tags out again; returns the names it defined."""
        defs, refs, words, _ = tags
        self.files.pop(path, None)
        self.broken.pop(path, None)
        self.edges.pop(path, None)
        for term in words:
            _discard(self.postings, term, path)
        names = {name for name, *_ in defs}
        for name in names:
            _discard(self.defined, name, path)
            for term in split_identifier(name):
                _discard(self.def_terms, term, path)
        for name in refs:
            _discard(self.referenced, name, path)
        return names

    def update(
        self,
        path: str,
        old: FileTags | None,
        new: tuple[str, str | None, FileTags] | None,
    ) -> None:
        """Replace a file's tags (``old`` → ``new``: digest, language, tags) with the graph
        kept exact: only edges that involve a name whose definitions moved are adjusted."""
        old_names = {name for name, *_ in old[0]} if old else set()
        new_names = {name for name, *_ in new[2][0]} if new else set()
        moved = old_names ^ new_names
        self._shift(moved, path, -1)
        if old is not None:
            self.remove(path, old)
        self.edges.pop(path, None)
        if new is not None:
            digest, language, tags = new
            self.add(path, digest, language, tags)
            self.edges[path] = self._edges_of(
                path, {n: c for n, c in tags[1].items() if n in self.defined}
            )
        self._shift(moved, path, +1)

    def _shift(self, names: set[str], changed: str, sign: int) -> None:
        """Add (or take back) what ``names`` contribute to the edges of the files using them."""
        for name in names:
            holders = self.defined.get(name)
            if not holders:
                continue
            share = specificity(name, len(holders)) / len(holders)
            for user, count in self.referenced.get(name, {}).items():
                if user == changed:
                    continue
                edges = self.edges.setdefault(user, {})
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
        edges: dict[str, dict[str, float]] = {path: {} for path in self.files}
        for name, users in self.referenced.items():
            holders = self.defined.get(name)
            if not holders:
                continue
            share = specificity(name, len(holders)) / len(holders)
            for user, count in users.items():
                out = edges.get(user)
                if out is None:
                    continue
                weight = share * math.sqrt(count)
                for holder in holders:
                    if holder != user:
                        out[holder] = out.get(holder, 0.0) + weight
        self.edges = edges

    def _edges_of(self, path: str, uses: dict[str, int]) -> dict[str, float]:
        """Weighted edges from ``path`` to the files defining what it references."""
        out: dict[str, float] = {}
        for name, count in uses.items():
            holders = self.defined[name]
            weight = specificity(name, len(holders)) * math.sqrt(count) / len(holders)
            for holder in holders:
                if holder != path:
                    out[holder] = out.get(holder, 0.0) + weight
        return out


def path_terms(path: str) -> list[str]:
    """Search terms of a path: its folders and file name, split like identifiers."""
    terms = []
    for part in path.split("/"):
        stem = part.rsplit(".", 1)[0] if "." in part[1:] else part
        for piece in stem.replace("-", "_").split("."):
            terms.extend(term for term in split_identifier(piece) if len(term) > 1)
    return terms


def _discard(table: dict[str, Any], key: str, path: str) -> None:
    holders = table.get(key)
    if holders is not None:
        holders.pop(path, None)
        if not holders:
            del table[key]


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
