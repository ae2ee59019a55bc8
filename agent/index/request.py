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

from agent.index.literals import MAX_LINE, messages
from agent.index.tags import split_identifier

STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "if", "in", "into", "is", "it", "its", "of", "on", "or", "so", "than", "that",
    "the", "their", "then", "there", "these", "this", "to", "was", "were", "when", "which",
    "while", "will", "with", "without", "not", "no",
))  # fmt: skip
DUMP_WEIGHT = 0.1  # a line of an environment or version dump
DUMP_RUN = 3  # this many ``key: value`` lines in a row are a dump
CHECKLIST_WEIGHT = 0.2  # a template's ticked box: "- [X] New issue — a search of …"
FRAME_SLOPE = 0.5  # the outermost frame of a traceback weighs 1 - FRAME_SLOPE
HEADING_WEIGHT = 0.2  # a template's headings: "### What happened?", "**To Reproduce**"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
# "numpy: 1.22.3", "python-bits: 64", "LANG: None", "sphinx==4.1.2", "OS: Darwin"
_DUMP = re.compile(
    r"^\s*[-*]?\s*[\w.+\- ]{1,40}?\s*(:|==|>=)\s*"
    r"(v?\d[\w.+\-]*|None|True|False|\(?None|little|big)\b[^a-z]{0,80}$",
    re.I,
)
# One line of a ``key: value`` listing (an environment dump); code (``a = 1``) is not.
# Its value is a version or a word or two: ``OS: Darwin``, not ``docs: fix a typo in x``.
_PAIR = re.compile(
    r"^\s*[-*]?\s*[\w.+\-() ]{1,30}?\s*(:|==|>=|<=)\s*(\d+\.\d+\S*.{0,100}|\S+(\s+\S+)?)\s*$"
)
_CHECKLIST = re.compile(r"^\s*[-*]\s*\[[ xX]\]")
_HEADING = re.compile(r"^\s*(#{1,6}\s.*|\*\*[^*]+\*\*:?|__[^_]+__:?)\s*$")
# What a line says apart from links and markup: a screenshot's ``<img src=… alt=…>`` or a
# link's address is not about the code (the paths in links are read as mentions).
_TAG = re.compile(r"<[A-Za-z/][^<>\n]*>")
_LINK = re.compile(r"\b[a-z][a-z0-9+.\-]{0,30}://\S+")
# A file path: folders and a name with an extension; from text, links and tracebacks.
MAX_REQUEST = 100_000  # characters of a request read (a pasted log can be endless)
_EXTENSIONS = (
    "py|pyx|pyi|ipynb|js|mjs|cjs|jsx|ts|tsx|go|rs|java|kt|c|h|cc|cpp|hpp|cs|rb|php|swift|scala|"
    "sh|sql|html|css|scss|rst|md|txt|toml|cfg|ini|yml|yaml|json|xml"
)
# Paths are found among a line's tokens, each checked whole: a regular expression searching
# for them could backtrack on a long run of path characters.
_TOKEN = re.compile(r"[^\s\"'`()\[\]{}<>,;|=*]+")
_PATH_TOKEN = re.compile(rf"[\w.\-~/\\]+\.(?:{_EXTENSIONS})")
_PATH_END = re.compile(r"(:\d+)*[:.]?$|#.*$")
# A traceback's frame: ``File "x.py", line 3, in f``, ``File x.py:3, in f``, ``x.py in f(``.
_FRAME = re.compile(r"""File\s+"?([^",]{1,500}?)"?(?:,\s*line\s*\d+|:\d+)?,\s*in\s+[\w<>.]+""")
_IPYTHON_FRAME = re.compile(r"(\S{1,500}\.py)\s+in\s+[\w<>.]+\s*\(")
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+)(?:[ \t]+as[ \t]+(\w+))?[ \t]*$", re.M)
_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(?:\(([^()]{0,2000})\)|([\w ,]+))[ \t]*$", re.M
)
_QUALIFIED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)")
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]{0,30}://")


@dataclass
class Mention:
    """A file the request points at: a traceback's frame, a link, a path in the text."""

    path: str
    weight: float


@dataclass
class Request:
    terms: dict[str, float] = field(default_factory=dict)  # term → weight, like a count
    symbols: dict[str, float] = field(default_factory=dict)  # identifier → weight
    mentions: list[Mention] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # quoted program output
    # (module as a path, name): ``xr.where(`` after ``import xarray as xr`` → ("xarray", "where")
    api: dict[tuple[str, str], float] = field(default_factory=dict)


def read_request(text: str) -> Request:
    text = _COMMENT.sub(" ", text[:MAX_REQUEST].replace("\r\n", "\n").replace("\r", "\n"))
    counts: Counter[str] = Counter()
    symbols: dict[str, float] = {}
    lines = _LINK.sub(_linked_path, _TAG.sub(" ", text)).splitlines()
    for line, weight in zip(lines, line_weights(lines), strict=True):
        # The words of a path are terms (its folders and file name), not names in the code.
        in_paths = {i for start, end, _ in paths_in(line) for i in range(start, end)}
        for match in _IDENTIFIER.finditer(line):
            word = match.group()
            code = match.start() not in in_paths and is_code_like(line, *match.span())
            if code and len(word) > 2:
                symbols[word] = max(symbols.get(word, 0.0), weight)
            for term in split_identifier(word):
                if len(term) > 1 and term not in STOPWORDS:
                    counts[term] += weight
    terms = {term: count if count <= 1 else 1 + math.log(count) for term, count in counts.items()}
    linked = _URL.sub(" ", text)
    return Request(terms, symbols, mentions(linked), messages(text), api(text))


def _linked_path(link: re.Match[str]) -> str:
    """What a link says: the file it points at, if any (``…/blob/…/core/nanops.py#L35``)."""
    found = paths_in(_URL.sub("", link.group()))
    return f" {found[-1][2].rsplit('/', 1)[-1]} " if found else " "


def paths_in(line: str) -> list[tuple[int, int, str]]:
    """The file paths in a line, with where they are: ``src/app.py``, ``app.py:12``, a link's
    ``…/core/nanops.py#L35``."""
    found = []
    for token in _TOKEN.finditer(line[:MAX_LINE]):
        text = _PATH_END.sub("", token.group())
        if _PATH_TOKEN.fullmatch(text) and not text.endswith("."):
            found.append((token.start(), token.start() + len(text), text))
    return found


def line_weights(lines: list[str]) -> list[float]:
    """Each line's weight; a run of ``key: value`` lines is a dump whatever its values
    (``OS: Darwin``, ``machine: x86_64``), and so is the title line just above it."""
    weights = [line_weight(line) for line in lines]
    for position in range(1, len(lines)):  # a checklist item's wrapped lines
        if weights[position - 1] == CHECKLIST_WEIGHT and lines[position][:1].isspace():
            weights[position] = CHECKLIST_WEIGHT
    pairs = [_PAIR.match(line) is not None for line in lines]
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and pairs[end]:
            end += 1
        if end - start >= DUMP_RUN:
            for position in range(max(start - 2, 0), end):
                line = lines[position]
                if position >= start or line.isupper() or not _IDENTIFIER.search(line):
                    weights[position] = DUMP_WEIGHT
        start = end + 1
    return weights


def line_weight(line: str) -> float:
    if _DUMP.match(line):
        return DUMP_WEIGHT
    if _CHECKLIST.match(line):
        return CHECKLIST_WEIGHT
    if _HEADING.match(line):
        return HEADING_WEIGHT
    return 1.0


def is_code_like(text: str, start: int, end: int) -> bool:
    """Whether the word at ``start:end`` is written as code: ``snake_case``, ``CamelCase``, a
    call, an attribute, in backticks."""
    word = text[start:end]
    after = text[end : end + 2]
    before = text[max(start - 2, 0) : start]
    return (
        "_" in word.strip("_")
        or any(c.isupper() for c in word[1:])
        or after[:1] == "("
        or before[-1:] == "`"
        or _attribute(after)
        or _attribute(before[::-1])
    )


def _attribute(around: str) -> bool:
    """``.x`` after a word, or ``x.`` before it: an attribute, not a sentence's full stop."""
    return len(around) == 2 and around[0] == "." and (around[1].isalnum() or around[1] == "_")


def mentions(text: str) -> list[Mention]:
    """Files named in tracebacks (the innermost frames weigh most), links and prose."""
    frames: list[str] = []
    named: list[str] = []
    for line in text.splitlines():
        line = line[:MAX_LINE]
        frame = _FRAME.search(line) or _IPYTHON_FRAME.search(line)
        if frame:
            frames.append(frame.group(1))
        else:
            named.extend(path for _, _, path in paths_in(line))
    # Frames run from the outermost call to where it failed; the last ones matter most.
    found = [
        Mention(path, 1 - FRAME_SLOPE * (1 - (position + 1) / len(frames)))
        for position, path in enumerate(frames)
    ]
    return found + [Mention(path, 1.0) for path in named]


def api(text: str) -> dict[tuple[str, str], float]:
    """The public names a code snippet uses through the modules it imports.

    ``import xarray as xr`` then ``xr.where(…)`` uses ``where`` from ``xarray``; ``from
    sympy import factor`` uses ``factor`` from ``sympy``. Module paths use ``/``, as files do.
    """
    modules: dict[str, str] = {}
    used: dict[tuple[str, str], float] = {}
    for match in _IMPORT.finditer(text):
        module = match.group(1)
        modules[match.group(2) or module.split(".")[0]] = (
            module if match.group(2) else module.split(".")[0]
        )
    for match in _FROM_IMPORT.finditer(text):
        module = match.group(1).replace(".", "/")
        for item in (match.group(2) or match.group(3)).split(","):
            words = item.split()
            if words and words[0] != "*":
                used[(module, words[0])] = 1.0
    if not modules:
        return used
    for match in _QUALIFIED.finditer(text):
        module = modules.get(match.group(1))
        if module is None:
            continue
        parts = match.group(2).split(".")[1:]
        # ``xr.where`` → (xarray, where); ``sympy.core.numbers.Float`` → (sympy/core/numbers, Float)
        path = "/".join([module.replace(".", "/"), *parts[:-1]])
        used[(path, parts[-1])] = 1.0
    return used
