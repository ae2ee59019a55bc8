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

import bisect
import re
from collections import Counter
from typing import Any

from agent.index.languages import Tools, tools_for
from tools.textio import decode

Definition = tuple[str, str, int, int, int, str]
FileTags = tuple[list[Definition], dict[str, int], dict[str, int], bool]

MAX_SIGNATURE = 160
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SPACES = re.compile(r"\s+")
_PADDING = re.compile(r"(?<=[(\[]) | (?=[)\]])")
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


# Identifiers are found by turning every byte that cannot be in one into a space and
# splitting (several times faster than a regular expression); a token's leading digits are
# not part of its identifier (``2x`` is ``x``).
_NAME_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_TO_SPACES = bytes(byte if byte in _NAME_BYTES else 32 for byte in range(256))
_word_cache: dict[bytes, tuple[str, ...]] = {}


def words(data: bytes) -> dict[str, int]:
    counts: dict[str, int] = {}
    cache = _word_cache
    for token, count in Counter(data.translate(_TO_SPACES).split()).items():
        terms = cache.get(token)
        if terms is None:
            name = token.lstrip(b"0123456789").decode("ascii")
            terms = tuple(t for t in split_identifier(name) if len(t) > 1) if name else ()
            if len(cache) < 500_000:
                cache[token] = terms
        for term in terms:
            counts[term] = counts.get(term, 0) + count
    return counts


def extract(data: bytes, language: str | None) -> FileTags:
    """Tags of one file; files in a language without a grammar only get words."""
    tools = tools_for(language) if language else None
    if tools is None:
        return [], {}, words(data), False
    data = as_utf8(data)
    tree, names, found = _tagged(data, tools)
    def_names = {(name.start_byte, name.end_byte) for _, _, name, _ in found}
    # A name being defined is not a use of it (catch-all patterns such as Ruby's, or
    # ``type_identifier`` in C and TypeScript, also match the name of the definition).
    # Counted as bytes sliced by span, then decoded once per name: cheaper than each node's text.
    refs: dict[str, int] = {}
    used = Counter(data[start:end] for start, end in names if (start, end) not in def_names)
    for name, count in used.items():
        key = name.decode("utf-8", errors="replace")
        refs[key] = refs.get(key, 0) + count
    defs = _nest(sorted(found, key=lambda item: (item[0], item[1])), data)
    return defs, refs, words(data), tree.root_node.has_error


def reference_lines(data: bytes, language: str | None, name: str) -> list[int]:
    """The lines (0-based, one per use) where the tags query sees ``name`` used: calls,
    imports, types, bases; never a comment, a string or the definition itself."""
    tools = tools_for(language) if language else None
    if tools is None:
        return []
    _, names, found = _tagged(as_utf8(data), tools)
    def_names = {(node.start_byte, node.end_byte) for _, _, node, _ in found}
    wanted = name.encode("utf-8")
    return sorted(
        node.start_point[0]
        for span, node in names.items()
        if span not in def_names and node.text == wanted
    )


def as_utf8(data: bytes) -> bytes:
    """The bytes as UTF-8, which tree-sitter expects: a Latin-1 or Windows-1252 file is
    decoded as the file tools decode it, so ``café_name`` stays one name."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        encoding = decode(data).encoding
        if not encoding.startswith("utf-16"):
            return data.decode(encoding).encode("utf-8")
    return data


def _tagged(data: bytes, tools: Tools) -> tuple[Any, dict[tuple[int, int], Any], list]:
    """The tree, the tagged names by span, and the definitions: (start, -end, name node, kind
    and node), from one pass of the query."""
    tree = tools.parser.parse(data)
    from tree_sitter import QueryCursor

    # One pass of the query, read as captures (reading it match by match builds a Python
    # object per match and costs several times more). Each definition is then paired with
    # its name: its ``name`` field when tagged, else the first tagged name inside it.
    captures = QueryCursor(tools.query).captures(tree.root_node)
    names = sorted(captures.get("name", ()), key=lambda node: node.start_byte)
    starts = [node.start_byte for node in names]
    by_span = {(node.start_byte, node.end_byte): node for node in names}
    found: list[tuple[int, int, Any, tuple[str, Any]]] = []
    for key, nodes in captures.items():
        if not key.startswith("definition."):
            continue
        for tagged in nodes:
            name = _name_of(tagged, by_span, names, starts)
            if name is None:
                continue
            node = _definition_node(tagged)
            found.append((node.start_byte, -node.end_byte, name, (key[11:], node)))
    return tree, by_span, found


def _name_of(tagged: Any, by_span: dict, names: list[Any], starts: list[int]) -> Any | None:
    """The tagged name of a definition: down its ``name``/``declarator`` fields (C's
    ``typedef struct point point_t`` names ``point_t``, not ``point``), else the first."""
    node = tagged
    for _ in range(4):
        field = node.child_by_field_name("name") or node.child_by_field_name("declarator")
        if field is None:
            break
        if (field.start_byte, field.end_byte) in by_span:
            return field
        node = field
    index = bisect.bisect_left(starts, tagged.start_byte)
    if index < len(names) and names[index].end_byte <= tagged.end_byte:
        return names[index]
    return None


def _text(node: Any) -> str:
    return node.text.decode("utf-8", errors="replace")


def _nest(found: list[tuple[int, int, Any, tuple[str, Any]]], data: bytes) -> list:
    """Definitions in source order, each with the index of the one enclosing it."""
    defs: list[Definition] = []
    open_ends: list[tuple[int, int, int]] = []  # end, index, start
    seen: set[tuple[int, str]] = set()
    for start, negative_end, name_node, (kind, node) in found:
        name = _text(name_node)
        if (start, name) in seen:
            continue
        seen.add((start, name))
        end = -negative_end
        while open_ends and open_ends[-1][0] <= start:
            open_ends.pop()
        # Several names declared by one node (``int a(void), b(void);``) are siblings.
        enclosing = [item for item in open_ends if (item[2], item[0]) != (start, end)]
        parent = enclosing[-1][1] if enclosing else -1
        if kind == "function" and parent >= 0 and defs[parent][1] in ("class", "interface"):
            kind = "method"
        defs.append(
            (name, kind, node.start_point[0], node.end_point[0], parent, _signature(node, data))
        )
        open_ends.append((end, len(defs) - 1, start))
    return defs


_DECLARATORS = frozenset({
    "function_declarator", "pointer_declarator", "reference_declarator",
    "parenthesized_declarator",
})  # fmt: skip
_DECLARATIONS = frozenset({"function_definition", "declaration", "field_declaration"})


def _definition_node(node: Any) -> Any:
    """The whole definition where a grammar tags only part of it.

    C and C++ tag a function's declarator (``add(int a, int b)``), which leaves out the
    return type; Go tags ``Server struct {…}`` without its ``type`` keyword.
    """
    outer = node.parent
    if node.type == "function_declarator":
        while outer is not None and outer.type in _DECLARATORS:
            outer = outer.parent
        if outer is not None and outer.type in _DECLARATIONS:
            return outer
    elif (
        node.type == "type_spec"
        and outer is not None
        and outer.type == "type_declaration"
        and outer.named_child_count == 1
    ):
        return outer
    return node


def _signature(node: Any, data: bytes) -> str:
    """The definition's header: up to its body, or its first line."""
    body = node.child_by_field_name("body")
    value = node.child_by_field_name("value")
    if body is None and value is not None:  # ``const f = (a) => …``: up to the arrow
        body = value.child_by_field_name("body")
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else None
    if end is not None:
        # Python's header ends at its colon; comments between it and the body are not in it.
        # (A colon followed by more, as in PHP's ``function f(): int``, is not the end.)
        before = [c for c in node.children if c.end_byte <= end and c.type != "comment"]
        if before and before[-1].type == ":":
            end = before[-1].end_byte
    if end is None:
        newline = data.find(b"\n", node.start_byte, node.end_byte)
        end = newline if newline != -1 else node.end_byte
        parameters = node.child_by_field_name("parameters")  # Ruby's, one per line
        if parameters is not None and parameters.end_byte > end:
            end = parameters.end_byte
    dropped: list[tuple[int, int, bytes]] = []
    if node.has_error or _NOISY.search(data, node.start_byte, end):
        _noise(node, end, dropped)
    kept, position = [], node.start_byte
    for start, stop, instead in sorted(dropped):
        kept += [data[position:start], instead]
        position = max(position, stop)
    kept.append(data[position:end])
    text = b"".join(kept).decode("utf-8", errors="replace")
    text = _SPACES.sub(" ", text).strip().removesuffix("{").rstrip()
    text = _PADDING.sub("", text)  # "f( a, b )", from parameters one per line
    if len(text) > MAX_SIGNATURE:
        text = text[: MAX_SIGNATURE - 1] + "…"
    return text


_CLOSING = frozenset({")", "]", "}", ">"})
# What a header must hold for ``_noise`` to find anything: the start of a comment in one of
# the languages (``#``, ``//``, ``/*``, JavaScript's ``<!--`` and ``-->``, Ruby's ``=begin``)
# or a comma before a closing bracket. Most headers hold neither, and their walk is skipped.
_NOISY = re.compile(rb"[#/]|<!--|-->|=begin|,\s*[)\]}>]")


def _noise(node: Any, end: int, found: list[tuple[int, int, bytes]]) -> None:
    """Spans of ``node`` before ``end`` a one-line header leaves out, with what replaces
    them: comments (a space), and a trailing comma before a closing bracket (``f(a, b,)``;
    a tuple's ``(1,)`` keeps it)."""
    children = node.children
    for position, child in enumerate(children):
        if child.start_byte >= end:
            break
        if "comment" in child.type:
            found.append((child.start_byte, child.end_byte, b" "))
        elif child.type == "," and "tuple" not in node.type:
            after = [c for c in children[position + 1 :] if "comment" not in c.type]
            if after and after[0].type in _CLOSING:
                found.append((child.start_byte, child.end_byte, b""))
        elif child.child_count:
            _noise(child, end, found)
