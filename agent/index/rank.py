"""Ranking files for a request: which files does this change most likely need?

score(f) = L(f) / max L  +  G · R(f) / max R

L, the lexical relevance of f to the request, is BM25F-like over four fields:

    L(f) = BM25(words of f)                      every identifier and word in the file
         + W_PATH · Σ idf_path(t)  for request terms t in f's path ("perm_groups.py")
         + W_DEFS · Σ idf_defs(t)  for request terms t in the names f defines
         + W_SYMBOL · Σ idf_sym(s) for identifiers s the request spells out
                                     (``coset_unrank``, ``AbelianGroup``) that f defines

Terms are identifiers split into parts and lower-cased, as the index stores them, so
"permutation groups" meets ``perm_groups`` through its parts (and a prefix match, at half
weight). A path or a definition name is a much stronger hint than a word somewhere in a long
file, hence the weights; rare terms count more (idf).

R is a personalised PageRank over the file graph (an edge from a file that uses an
identifier to the file that defines it, weighted by how specific the identifier is),
started from the files with the highest L and from the files in focus. It lifts the files
the relevant ones depend on: asking about a bug seen in ``solveset`` also ranks the module
that defines the helper it calls. It is computed as the first ``STEPS`` terms of the
PageRank series Σ a(1-a)^k P^k s, keeping the ``KEEP`` strongest files at each step, which
is what makes it cheap enough to run on every request.

Test files are multiplied by TEST_WEIGHT: a change is described by what it fixes, and the
code that fixes it lives outside the tests more often than in them. Without a request, files
rank by how much the rest of the repository depends on them.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable

from agent.index.model import Model, Table, path_terms
from agent.index.request import Request, read_request

W_PATH = 2.0
W_DEFS = 0.5
W_SYMBOL = 3.0
W_EVIDENCE = 0.3
W_MENTION = 1.0
SPECIFIC = 1.0
G = 0.2
ALPHA = 0.25
STEPS = 3
KEEP = 50
SEEDS = 20
TEST_WEIGHT = 0.5
PROSE_WEIGHT = 0.5
K1 = 1.2
B = 0.75

_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing|__tests__|spec)(/|$)|(^|/)test_|_test\.|\.(test|spec)\."
)


def request_terms(text: str) -> tuple[dict[str, float], set[str]]:
    """Search terms of a request, and the identifiers it spells out as code."""
    request = read_request(text)
    return request.terms, set(request.symbols)


def is_test(path: str) -> bool:
    return _TEST_PATH.search(path) is not None


class Ranker:
    """Ranks the files of one model; caches what depends only on the model's paths."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._path_index: dict[str, set[str]] | None = None
        self._by_name: dict[str, list[str]] | None = None

    def path_index(self) -> dict[str, set[str]]:
        if self._path_index is None:
            index: dict[str, set[str]] = {}
            for path in self.model.files:
                for term in path_terms(path):
                    index.setdefault(term, set()).add(path)
            self._path_index = index
        return self._path_index

    def rank(self, request: str = "", focus: Iterable[str] = ()) -> list[tuple[str, float]]:
        """Every indexed file with its score, best first (ties by path, so it is stable)."""
        model = self.model
        focus = [path for path in focus if path in model.files]
        wanted = read_request(request)
        lexical = self.lexical(wanted)
        seeds = strongest(lexical, SEEDS)
        top = max(lexical.values(), default=0.0)
        for path in focus:
            seeds[path] = seeds.get(path, 0.0) + max(top, 1.0)
        spread = propagate(model.edges, seeds) if seeds else importance(model.edges)
        top_spread = max(spread.values(), default=0.0) or 1.0
        top = top or 1.0
        scores: dict[str, float] = {}
        for path, (_, language, _) in model.files.items():
            score = lexical.get(path, 0.0) / top + G * spread.get(path, 0.0) / top_spread
            if path in focus:
                score += 1.0
            if is_test(path):
                score *= TEST_WEIGHT
            elif language is None:
                score *= PROSE_WEIGHT
            scores[path] = score
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def lexical(self, request: Request) -> dict[str, float]:
        """Text relevance (scaled to 1 at best) plus the evidence (scaled to W_EVIDENCE)."""
        text = self.text(request)
        evidence = self.evidence(request)
        top_text = max(text.values(), default=0.0) or 1.0
        top_evidence = max(evidence.values(), default=0.0) or 1.0
        scores = {path: value / top_text for path, value in text.items()}
        for path, value in evidence.items():
            scores[path] = scores.get(path, 0.0) + W_EVIDENCE * value / top_evidence
        return scores

    def text(self, request: Request) -> dict[str, float]:
        """BM25F over the words of a file, its path and the names it defines."""
        model = self.model
        total = len(model.files) or 1
        average = sum(length for _, _, length in model.files.values()) / total or 1.0
        scores: dict[str, float] = {}

        def add(path: str, value: float) -> None:
            scores[path] = scores.get(path, 0.0) + value

        paths = self.path_index()
        for term, repeat in request.terms.items():
            postings = model.postings.get(term) or {}
            idf = _idf(total, len(postings))
            for path, count in postings.items():
                length = model.files[path][2]
                norm = count * (K1 + 1) / (count + K1 * (1 - B + B * length / average))
                add(path, repeat * idf * norm)
            for holders, weight in self._path_matches(term, paths):
                idf_path = _idf(total, len(holders))
                for path in holders:
                    add(path, repeat * W_PATH * weight * idf_path)
            holders = model.def_terms.get(term)
            if holders:
                idf_defs = _idf(total, len(holders))
                for path, count in holders.items():
                    add(path, repeat * W_DEFS * idf_defs * (1 + math.log(count)))
        return scores

    def evidence(self, request: Request) -> dict[str, float]:
        """What points at a file whatever the request's length: the names it spells out that
        the file defines (a name defined in k files points at each with 1/k), and the paths
        it gives (a traceback's frames, a link)."""
        model = self.model
        scores: dict[str, float] = {}
        for symbol, weight in request.symbols.items():
            holders = model.defined.get(symbol)
            if holders:
                for path in holders:
                    scores[path] = scores.get(path, 0.0) + weight / len(holders) ** SPECIFIC
        for mention in request.mentions:
            path = self.resolve(mention.path)
            if path is not None:
                scores[path] = scores.get(path, 0.0) + W_MENTION * mention.weight
        return scores

    def resolve(self, mentioned: str) -> str | None:
        """The indexed file a path in the text stands for: the one sharing the longest tail
        with it (``site-packages/xarray/core/merge.py`` → ``xarray/core/merge.py``). One
        shared part is enough only for a bare file name that one or two files have."""
        if self._by_name is None:
            by_name: dict[str, list[str]] = {}
            for path in self.model.files:
                by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
            self._by_name = by_name
        parts = [part for part in mentioned.replace("\\", "/").split("/") if part]
        if not parts:
            return None
        candidates = self._by_name.get(parts[-1], [])
        best, best_shared = None, 0
        for candidate in candidates:
            shared = _shared_tail(parts, candidate.split("/"))
            if shared > best_shared:
                best, best_shared = candidate, shared
        if best_shared >= 2 or (len(parts) == 1 and 0 < len(candidates) <= 2):
            return best
        return None

    def _path_matches(
        self, term: str, paths: dict[str, set[str]]
    ) -> Iterable[tuple[set[str], float]]:
        exact = paths.get(term)
        if exact:
            yield exact, 1.0
        if len(term) < 4:
            return
        for other, holders in paths.items():
            if (
                other != term
                and len(other) >= 3
                and (term.startswith(other) or other.startswith(term))
            ):
                yield holders, 0.5


def _shared_tail(first: list[str], second: list[str]) -> int:
    shared = 0
    while shared < min(len(first), len(second)) and first[-1 - shared] == second[-1 - shared]:
        shared += 1
    return shared


def _idf(total: int, found: int) -> float:
    return math.log(1 + (total - found + 0.5) / (found + 0.5))


def propagate(edges: Table, seeds: dict[str, float]) -> dict[str, float]:
    """Personalised PageRank from ``seeds``, truncated to its first terms (see above)."""
    total = sum(seeds.values()) or 1.0
    mass = {path: value / total for path, value in seeds.items()}
    result: dict[str, float] = {}
    factor = ALPHA
    for _ in range(STEPS + 1):
        for path, value in mass.items():
            result[path] = result.get(path, 0.0) + factor * value
        following: dict[str, float] = {}
        for path, value in mass.items():
            out = edges.get(path)
            if not out:
                continue
            weight = sum(out.values())
            for target, share in out.items():
                following[target] = following.get(target, 0.0) + value * share / weight
        mass = strongest(following, KEEP)
        factor *= 1 - ALPHA
    return result


def strongest(scores: dict[str, float], count: int) -> dict[str, float]:
    """The ``count`` highest scores, ties by path: the same whatever order the files were
    indexed in (a resumed build, a pool's workers finishing in another order)."""
    return dict(heapq.nsmallest(count, scores.items(), key=lambda item: (-item[1], item[0])))


def importance(edges: Table) -> dict[str, float]:
    """Without a request: how much the rest of the repository leans on each file."""
    received: dict[str, float] = {}
    for _, out in edges.items():
        weight = sum(out.values())
        if not weight:
            continue
        for target, share in out.items():
            received[target] = received.get(target, 0.0) + share / weight
    return received
