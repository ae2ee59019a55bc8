"""Ranking files for a request: which files does this change most likely need?

score(f) = T(f) / max T  +  W_EVIDENCE · E(f) / max E  +  G · R(f) / max R

then × TEST_WEIGHT for test files, × PROSE_WEIGHT for files without a grammar and for
``docs/`` and ``examples/``, and + 1 for files in focus. The request is read first
(``agent/index/request.py``): each line weighed by what it is, its names, the files it
points at, the messages it quotes, the names its snippet uses through imports.

T, the text relevance, is BM25F-like over three fields:

    T(f) = BM25(words of f)                      every identifier and word in the file
         + W_PATH · Σ idf_path(t)  for request terms t in f's path ("perm_groups.py")
         + W_DEFS · Σ idf_defs(t)  for request terms t in the names f defines

Terms are identifiers split into parts and lower-cased, as the index stores them, so
"permutation groups" meets ``perm_groups`` through its parts (and a prefix match, at half
weight). A term counts by the summed weight of the lines it is on (past 1, as 1 + its log).

E, the evidence, is what points at a file whatever the request's length (normalised apart
from T, so that a long report's many words do not drown it):

- a name the request spells out as code (``coset_unrank``, ``Frame.resample``): 1/k to each
  of the k files defining it (a name only one file defines points straight at it);
- a name used through the snippet's imports (``import xarray as xr`` … ``xr.where(``): 1/k
  to the k top-level definitions inside that module, instead of to every ``where``;
- a path in a traceback frame, a link or the text, resolved to an indexed file by its
  longest shared tail (``site-packages/xarray/core/merge.py``): W_MENTION, the later frames
  of a traceback a little more, a file named many times counted once;
- a message the request quotes (an error line, a quoted phrase, a message id such as
  ``unused-import``) that a string literal of a file is a filled-in template of: 1/k over
  the k such files, looked for in the CANDIDATES files holding most of its words.

R is a personalised PageRank over the file graph (an edge from a file that uses an
identifier to the file that defines it, weighted by how specific the identifier is),
started from the files with the highest T + E and from the files in focus. It lifts the
files the relevant ones depend on: asking about a bug seen in ``solveset`` also ranks the
module that defines the helper it calls. It is computed as the first ``STEPS`` terms of the
PageRank series Σ a(1-a)^k P^k s, keeping the ``KEEP`` strongest files at each step, which
is what makes it cheap enough to run on every request. Without a request, files rank by how
much the rest of the repository depends on them.

What each signal was worth (``python bench/localization.py``, 2026-12-02): Acc@1/@5 on the
169 real issues of nine projects (SWE-bench dev), with everything on 0.473 / 0.811 (it was
0.385 / 0.675 before the request was read line by line and the evidence added), and Acc@5
on the 200 SymPy changes, 0.830. Each line is the same run with one signal off:

    signal off                                   issues @1 / @5    SymPy @5
    names as evidence (W_SYMBOL = 0)             0.426 / 0.787     0.825
    all evidence (W_EVIDENCE = 0)                0.414 / 0.757     0.825
    paths in tracebacks and links (W_MENTION)    0.456 / 0.805     0.830
    quoted messages in literals (W_LITERAL)      0.462 / 0.811     0.830
    names through imports (W_API)                0.473 / 0.799     0.830
    1/k for names defined in k files (SPECIFIC)  0.456 / 0.811     0.820
    prose, docs/, examples/ at PROSE_WEIGHT      0.456 / 0.769     0.830
    dumps, checklists, headings damped           0.450 / 0.799     0.830
    tests at TEST_WEIGHT                         0.349 / 0.692     0.795
    the graph (G = 0)                            0.473 / 0.799     0.820

The weights were chosen on those two sets; a different set of issues is the real measure, so
each signal is one a bug report carries in any project, none of them is tuned to a project,
and a weight that moved the figures only by a case or two was left at a round value.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
from collections.abc import Callable, Iterable

from agent.index.literals import (
    MIN_WORDS,
    Template,
    fills,
    fold,
    is_kebab,
    message_words,
    templates,
)
from agent.index.model import Model, Table
from agent.index.request import STOPWORDS, Request, read_request

W_PATH = 2.0
W_DEFS = 0.5
W_SYMBOL = 1.0
W_EVIDENCE = 0.3
W_MENTION = 2.0
SPECIFIC = 1.0
W_LITERAL = 1.0
W_API = 1.0
CANDIDATES = 8
G = 0.1
ALPHA = 0.25
STEPS = 3
KEEP = 50
SEEDS = 20
TEST_WEIGHT = 0.5
PROSE_WEIGHT = 0.5
K1 = 1.2
B = 0.75

# Documentation and examples, code or not: the change a request asks for is rarely there.
_AUX_PATH = re.compile(r"(^|/)(docs?|examples?)/")
_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing|__tests__|spec)(/|$)|(^|/)test_|_test\.|\.(test|spec)\."
)


def is_test(path: str) -> bool:
    return _TEST_PATH.search(path) is not None


class Ranker:
    """Ranks the files of one model; caches what depends only on the model's paths.

    ``read`` gives a file's text (None when it cannot): with it, messages the request quotes
    are looked for in the string literals of the files most likely to hold them.
    """

    def __init__(self, model: Model, read: Callable[[str], str | None] | None = None) -> None:
        self.model = model
        self.read = read
        self._templates: dict[str, list[Template]] = {}
        self._path_index: dict[str, set[str]] | None = None
        self._path_terms: list[str] = []  # sorted, for prefix look-ups
        self._by_name: dict[str, list[str]] | None = None

    def path_index(self) -> dict[str, set[str]]:
        if self._path_index is None:
            self._path_index = self.model.path_index()
            self._path_terms = sorted(term for term in self._path_index if len(term) >= 3)
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
            elif language is None or _AUX_PATH.search(path):
                score *= PROSE_WEIGHT
            scores[path] = score
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def lexical(self, request: Request) -> dict[str, float]:
        """Text relevance (scaled to 1 at best) plus the evidence (scaled to W_EVIDENCE)."""
        text = self.text(request)
        evidence = self.evidence(request, text)
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

    def evidence(self, request: Request, text: dict[str, float]) -> dict[str, float]:
        """What points at a file whatever the request's length: the names it spells out that
        the file defines (a name defined in k files points at each with 1/k), and the paths
        it gives (a traceback's frames, a link)."""
        model = self.model
        scores: dict[str, float] = {}
        # ``xr.where(`` after ``import xarray as xr``: the top-level ``where`` inside xarray,
        # not every method of that name.
        resolved: set[str] = set()
        for (module, name), weight in request.api.items():
            inside = [path for path in model.top_level.get(name) or () if _in(path, module)]
            if inside:
                resolved.add(name)
            for path in inside:
                scores[path] = scores.get(path, 0.0) + W_API * weight / len(inside) ** SPECIFIC
        for symbol, weight in request.symbols.items():
            holders = model.defined.get(symbol)
            if holders and symbol not in resolved:
                for path in holders:
                    scores[path] = (
                        scores.get(path, 0.0) + W_SYMBOL * weight / len(holders) ** SPECIFIC
                    )
        named: dict[str, float] = {}
        for mention in request.mentions:
            path = self.resolve(mention.path)
            if path is not None:
                named[path] = max(named.get(path, 0.0), mention.weight)
        for path, weight in named.items():
            scores[path] = scores.get(path, 0.0) + W_MENTION * weight
        for message in request.messages:
            found = self.quoting(message, text)
            for path in found:
                scores[path] = scores.get(path, 0.0) + W_LITERAL / len(found) ** SPECIFIC
        return scores

    def quoting(self, message: str, text: dict[str, float]) -> list[str]:
        """The files with a string literal that ``message`` is a filled-in copy of, among
        the few holding most of its words (the most relevant to the request first)."""
        if self.read is None:
            return []
        words = {word for word in message_words(message) if word not in STOPWORDS}
        kebab = is_kebab(message)
        if len(words) < (2 if kebab else MIN_WORDS):
            return []
        holding: dict[str, int] = {}
        for word in words:
            for path in self.model.postings.get(word) or ():
                holding[path] = holding.get(path, 0) + 1
        least = len(words) if kebab else max(MIN_WORDS, len(words) // 2)
        likely = [
            (-count, -text.get(path, 0.0), path)
            for path, count in holding.items()
            if count >= least
        ]
        folded = fold(message)
        found = []
        for *_, path in heapq.nsmallest(CANDIDATES, likely):
            patterns = self._templates.get(path)
            if patterns is None:
                source = self.read(path)
                patterns = self._templates[path] = templates(source) if source else []
            if any(fills(pattern, folded) for pattern in patterns):
                found.append(path)
        return found

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
        """The files whose path has ``term`` (weight 1), or a term that starts it or that it
        starts (``perm`` and ``permutation``: 0.5)."""
        exact = paths.get(term)
        if exact:
            yield exact, 1.0
        if len(term) < 4:
            return
        for end in range(3, len(term)):
            shorter = paths.get(term[:end])
            if shorter:
                yield shorter, 0.5
        terms = self._path_terms
        position = bisect.bisect_right(terms, term)
        while position < len(terms) and terms[position].startswith(term):
            yield paths[terms[position]], 0.5
            position += 1


def _in(path: str, module: str) -> bool:
    """Whether ``path`` is part of ``module`` (``xarray``, ``sympy/core/numbers``), wherever the
    package sits in the repository (``src/``)."""
    path = "/" + path
    return f"/{module}/" in path or path.endswith(f"/{module}.py")


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
