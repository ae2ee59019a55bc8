"""What a request says, read for ranking: its terms, the code it spells out, the files it
points at.

A request is often a bug report, not a one-line task: a filled-in issue template, a code
snippet, a traceback, an environment dump. Each line is weighed by what it is, so that the
boilerplate (template comments, ``numpy: 1.22.3``, ``- [X] New issue``) says little, and
the evidence (a traceback's frames, a link to a file, a quoted name) says a lot.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from agent.index.tags import split_identifier

STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "if", "in", "into", "is", "it", "its", "of", "on", "or", "so", "than", "that",
    "the", "their", "then", "there", "these", "this", "to", "was", "were", "when", "which",
    "while", "will", "with", "without", "not", "no",
))  # fmt: skip
DUMP_WEIGHT = 0.1  # a line of an environment or version dump
CHECKLIST_WEIGHT = 0.2  # a template's ticked box: "- [X] New issue — a search of …"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
# "numpy: 1.22.3", "python-bits: 64", "LANG: None", "sphinx==4.1.2", "OS: Darwin"
_DUMP = re.compile(
    r"^\s*[-*]?\s*[\w.+\- ]{1,40}?\s*(:|==|>=)\s*"
    r"(v?\d[\w.+\-]*|None|True|False|\(?None|little|big)\b[^a-z]{0,80}$",
    re.I,
)
_CHECKLIST = re.compile(r"^\s*[-*]\s*\[[ xX]\]")
# A file path: folders and a name with an extension; from text, links and tracebacks.
_EXTENSIONS = (
    "py|pyx|pyi|ipynb|js|mjs|cjs|jsx|ts|tsx|go|rs|java|kt|c|h|cc|cpp|hpp|cs|rb|php|swift|scala|"
    "sh|sql|html|css|scss|rst|md|txt|toml|cfg|ini|yml|yaml|json|xml"
)
_PATH = re.compile(rf"(?<![\w/.])((?:[\w.\-~]+[/\\])*[\w.\-]+\.(?:{_EXTENSIONS}))(?!\w|\.\w)")
_FRAME = re.compile(
    r"""File\s+"?(?P<p1>[^"\n,]+?)"?(?:,\s*line\s*\d+|:\d+)?,\s*in\s+(?P<f1>[\w<>.]+)"""
    r"""|(?P<p2>\S+\.py)\s+in\s+(?P<f2>[\w<>.]+)\s*\("""
)
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://")


@dataclass
class Mention:
    """A file the request points at: a traceback frame (``function`` set) or a path."""

    path: str
    weight: float
    function: str = ""


@dataclass
class Request:
    terms: dict[str, float] = field(default_factory=dict)  # term → weight, like a count
    symbols: dict[str, float] = field(default_factory=dict)  # identifier → weight
    mentions: list[Mention] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.symbols or self.mentions)


def read_request(text: str) -> Request:
    text = _URL.sub(" ", _COMMENT.sub(" ", text))
    counts: Counter[str] = Counter()
    symbols: dict[str, float] = {}
    for line in text.splitlines():
        weight = line_weight(line)
        # The words of a path are terms (its folders and file name), not names in the code.
        in_paths = {i for m in _PATH.finditer(line) for i in range(m.start(1), m.end(1))}
        for match in _IDENTIFIER.finditer(line):
            word = match.group()
            code = match.start() not in in_paths and is_code_like(line, *match.span())
            if code and len(word) > 2:
                symbols[word] = max(symbols.get(word, 0.0), weight)
            for term in split_identifier(word):
                if len(term) > 1 and term not in STOPWORDS:
                    counts[term] += weight
    terms = {term: count if count <= 1 else 1 + math.log(count) for term, count in counts.items()}
    return Request(terms, symbols, mentions(text))


def line_weight(line: str) -> float:
    if _DUMP.match(line):
        return DUMP_WEIGHT
    if _CHECKLIST.match(line):
        return CHECKLIST_WEIGHT
    return 1.0


def is_code_like(text: str, start: int, end: int) -> bool:
    """Whether the word at ``start:end`` is written as code: ``snake_case``, ``CamelCase``, a
    call, an attribute, in backticks."""
    word = text[start:end]
    after = text[end : end + 1]
    before = text[start - 1 : start] if start else ""
    return (
        "_" in word.strip("_")
        or any(c.isupper() for c in word[1:])
        or after in ("(", ".")
        or before in (".", "`")
    )


def mentions(text: str) -> list[Mention]:
    """Files named in tracebacks (the innermost frames weigh most), links and prose."""
    found: list[Mention] = []
    frames = list(_FRAME.finditer(text))
    framed: set[int] = set()
    for position, frame in enumerate(frames):
        group = "p1" if frame.group("p1") else "p2"
        framed.update(range(frame.start(group), frame.end(group)))
        # Frames run from the outermost call to where it failed; the last ones matter most.
        weight = 0.5 + 0.5 * (position + 1) / len(frames)
        function = (frame.group("f1") or frame.group("f2")).rsplit(".", 1)[-1]
        found.append(Mention(frame.group(group), weight, function))
    for match in _PATH.finditer(text):
        if match.start(1) not in framed:
            found.append(Mention(match.group(1), 1.0))
    return found
