"""What one file contributes to the index: its definitions, references and words.

This runs in worker processes during a cold build, so its results are plain tuples and
dicts (cheap to send between processes and to store with ``marshal``).

- ``defs``: ``(name, kind, line, end_line, parent, signature)``; ``line`` is 0-based,
  ``parent`` the index of the enclosing definition or -1, ``signature`` the header (a
  function's name, parameters and return type; a class's bases) on one line.
- ``refs``: identifier → how often the file uses it (calls, types, imports, bases).
- ``words``: search term → count, from every identifier and word in the text, identifiers
  also split into their parts (``parse_expr`` → ``parse``, ``expr``; ``AbelianGroup`` →
  ``abelian``, ``group``), all lower-cased.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from agent.index.languages import tools_for

Definition = tuple[str, str, int, int, int, str]
FileTags = tuple[list[Definition], dict[str, int], dict[str, int], bool]

MAX_SIGNATURE = 160
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SPACES = re.compile(r"\s+")
_split_cache: dict[str, tuple[str, ...]] = {}


def split_identifier(identifier: str) -> tuple[str, ...]:
    """The lower-cased search terms of an identifier: itself and its parts."""
    terms = _split_cache.get(identifier)
    if terms is None:
        whole = identifier.lower().strip("_")
        parts = [part.lower() for part in _PARTS.findall(identifier)]
        terms = tuple(dict.fromkeys([whole, *parts] if len(parts) > 1 else [whole]))
        if len(_split_cache) < 500_000:
            _split_cache[identifier] = terms
    return terms


def words(data: bytes) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for identifier, count in Counter(_IDENTIFIER.findall(data)).items():
        for term in split_identifier(identifier.decode("ascii")):
            if len(term) > 1:
                counts[term] += count
    return dict(counts)


def extract(data: bytes, language: str | None) -> FileTags:
    """Tags of one file; files in a language without a grammar only get words."""
    tools = tools_for(language) if language else None
    if tools is None:
        return [], {}, words(data), False
    parser, query = tools
    tree = parser.parse(data)
    from tree_sitter import QueryCursor

    found: list[tuple[int, int, str, str, Any]] = []
    refs: Counter[str] = Counter()
    for _, captures in QueryCursor(query).matches(tree.root_node):
        names = captures.get("name")
        if not names:
            continue
        for key, nodes in captures.items():
            if key.startswith("definition."):
                node = nodes[0]
                name = _text(names[0])
                found.append((node.start_byte, -node.end_byte, name, key[11:], node))
            elif key.startswith("reference."):
                for name_node in names:
                    refs[_text(name_node)] += 1
    defs = _nest(sorted(found, key=lambda item: (item[0], item[1])), data)
    return defs, dict(refs), words(data), tree.root_node.has_error


def _text(node: Any) -> str:
    return node.text.decode("utf-8", errors="replace")


def _nest(found: list[tuple[int, int, str, str, Any]], data: bytes) -> list:
    """Definitions in source order, each with the index of the one enclosing it."""
    defs: list[Definition] = []
    open_ends: list[tuple[int, int]] = []
    seen: set[tuple[int, str]] = set()
    for start, negative_end, name, kind, node in found:
        if (start, name) in seen:
            continue
        seen.add((start, name))
        end = -negative_end
        while open_ends and open_ends[-1][0] <= start:
            open_ends.pop()
        parent = open_ends[-1][1] if open_ends else -1
        if kind == "function" and parent >= 0 and defs[parent][1] == "class":
            kind = "method"
        defs.append(
            (name, kind, node.start_point[0], node.end_point[0], parent, _signature(node, data))
        )
        open_ends.append((end, len(defs) - 1))
    return defs


def _signature(node: Any, data: bytes) -> str:
    """The definition's header: up to its body, or its first line."""
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else None
    if end is not None:
        # Python's header ends at its colon; comments between it and the body are not in it.
        colons = [c.end_byte for c in node.children if c.type == ":" and c.end_byte <= end]
        end = colons[-1] if colons else end
    if end is None:
        newline = data.find(b"\n", node.start_byte, node.end_byte)
        end = newline if newline != -1 else node.end_byte
    text = data[node.start_byte : end].decode("utf-8", errors="replace")
    text = _SPACES.sub(" ", text).strip()
    if len(text) > MAX_SIGNATURE:
        text = text[: MAX_SIGNATURE - 1] + "…"
    return text
