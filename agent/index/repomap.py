"""The repo map: the best-ranked files with the signatures of their most telling definitions.

Each file shows its path and then definition headers (classes, functions, methods, with
their nesting and line numbers), never bodies, nor what is local to a function (a
decorator's ``wrapper``). Within a file, definitions the request names come first, then
those the rest of the repository uses most, kept in source order for display. The map is
filled file by file until the token budget is spent (estimated at four characters a token:
a fast, slightly generous estimate, so the map is built once, never re-rendered in a search).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.index.model import Model
from agent.index.request import read_request
from agent.index.tags import Definition, FileTags, split_identifier

CHARS_PER_TOKEN = 4
MOST_DEFINITIONS = 24
FEWEST_DEFINITIONS = 3


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def render(
    model: Model,
    ranking: list[tuple[str, float]],
    tags_of: Callable[[str], FileTags | None],
    tokens: int,
    request: str = "",
) -> str:
    """The map within ``tokens``; files in ranking order, the best first."""
    read = read_request(request)
    wanted = set(read.terms) | {symbol.lower() for symbol in read.symbols}
    blocks: list[str] = []
    used = 0
    for position, (path, score) in enumerate(ranking):
        if score <= 0 and request:
            break
        tags = tags_of(path)
        defs = tags[0] if tags else []
        public = [index for index in range(len(defs)) if not _inside_function(defs, index)]
        most = max(FEWEST_DEFINITIONS, MOST_DEFINITIONS - position)
        for limit in (most, FEWEST_DEFINITIONS, 0):
            chosen = _chosen(defs, public, model, wanted, limit)
            block = _block(path, defs, chosen, len(public))
            cost = estimate_tokens(block) + 1
            if used + cost <= tokens:
                blocks.append(block)
                used += cost
                break
        else:
            break
    return "\n".join(blocks)


def _chosen(
    defs: list[Definition], public: list[int], model: Model, wanted: set[str], limit: int
) -> list[int]:
    """Indexes of the definitions to show (from ``public``), with their enclosing ones, in
    source order."""
    if limit <= 0 or not public:
        return []

    def weight(index: int) -> tuple[float, int]:
        name, kind, *_ = defs[index]
        exact = name.lower() in wanted
        shared = len(wanted.intersection(split_identifier(name)))
        users = len(model.referenced.get(name) or ())
        private = name.startswith("_") and not name.startswith("__")
        return (
            (20.0 if exact else 0.0)
            + 5.0 * shared
            + min(users, 50) / 10
            + (1.0 if kind == "class" else 0.0)
            - (2.0 if private else 0.0),
            -index,
        )

    best = sorted(public, key=weight, reverse=True)[:limit]
    shown: set[int] = set()
    for index in best:
        while index >= 0 and index not in shown:
            shown.add(index)
            index = defs[index][4]
    return sorted(shown)


def _inside_function(defs: list[Definition], index: int) -> bool:
    """Whether a definition is local to a function (a decorator's ``wrapper``): not part of
    what the rest of the code can call, so the map leaves it out."""
    parent = defs[index][4]
    while parent >= 0:
        if defs[parent][1] in ("function", "method"):
            return True
        parent = defs[parent][4]
    return False


def _block(path: str, defs: list[Definition], chosen: list[int], public: int) -> str:
    """A file's path, then its chosen definitions (of ``public`` it could show)."""
    lines = [f"{path}:", *definition_lines(defs, chosen)] if chosen else [path]
    if chosen and len(chosen) < public:
        lines.append(f"{'':>6}│ … {public - len(chosen)} more")
    return "\n".join(lines)


def definition_lines(defs: list[Definition], chosen: list[int]) -> list[str]:
    """Definition headers indented by nesting, each after its line number.

    ``chosen`` is in source order and holds each definition's enclosing ones.
    """
    depths: dict[int, int] = {}
    lines = []
    for index in chosen:
        _, _, line, _, parent, signature = defs[index]
        depths[index] = depths.get(parent, -1) + 1 if parent >= 0 else 0
        lines.append(f"{line + 1:>6}│ {'    ' * depths[index]}{signature}")
    return lines
