"""AI comments: requests a person leaves in their code for ``shipmate watch``.

A comment ending in ``AI!`` asks for a change; one ending in ``AI?`` asks a question
(``ai!`` and ``AI !`` too; a comment may also start with the marker: ``# AI! add a test``).
Whole-line comments just above it, in the same syntax, belong to it, so a request can
span lines.

How they are found: a line scanner knows each file type's comment syntax (``#``, ``//``,
``--``, ``;``, ``/* */``, ``<!-- -->``) and proposes every place a comment could start.
Where the index has a tree-sitter grammar for the file, the parser confirms that the place
really is a comment (``"# not AI!"`` in a string is not); elsewhere (Markdown, SQL, CSS, …)
the scanner's word stands. The scanner alone is simple and covers every language; the
parser alone would miss those without a grammar. Pure: text in, comments out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from agent.index.languages import detect, tools_for

if TYPE_CHECKING:
    from tree_sitter import Tree

Kind = Literal["change", "question"]

HASH = ("#",)
SLASH = ("//",)
DASH = ("--",)
SEMI = (";",)
C_BLOCK = (("/*", "*/"),)
HTML_BLOCK = (("<!--", "-->"),)
C_LIKE = (SLASH, C_BLOCK)
Syntax = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]  # line markers, blocks
# Comment syntax by file extension (or file name).
FAMILIES: tuple[tuple[str, Syntax], ...] = (
    (
        ".py .pyi .rb .rake .gemspec .sh .bash .zsh .fish .yaml .yml .toml .r .pl .pm .mk "
        ".cfg .conf .tf .ex .exs .jl .ps1 .cmake .dockerfile makefile dockerfile .gitignore "
        ".env .properties .nim .cr .coffee",
        (HASH, ()),
    ),
    (
        ".js .mjs .cjs .jsx .ts .mts .cts .tsx .go .rs .java .c .h .cc .cpp .cxx .c++ .hpp "
        ".hh .hxx .h++ .ipp .cs .swift .kt .kts .scala .dart .groovy .gradle .proto .scss "
        ".less .sol .zig .jsonc .json5",
        C_LIKE,
    ),
    (".php", (("//", "#"), C_BLOCK)),
    (".nix", (HASH, C_BLOCK)),
    (".css", ((), C_BLOCK)),
    (".sql .lua .hs .elm .ada .adb .ads .purs", (DASH, ())),
    (".lisp .el .clj .cljs .cljc .edn .scm .rkt .asm .s .ini", (SEMI, ())),
    (".html .htm .xml .svg .xhtml .md .markdown .vue .svelte .astro", ((), HTML_BLOCK)),
)
SYNTAX: dict[str, Syntax] = {name: syntax for names, syntax in FAMILIES for name in names.split()}
# A file of unknown type: every syntax, a line marker only at the start or after a space.
ANY_SYNTAX = (("#", "//", "--", ";"), (*C_BLOCK, *HTML_BLOCK))

_END = re.compile(r"(?:^|(?<=\W))ai\s*([!?])$", re.IGNORECASE)
_START = re.compile(r"^ai\s*([!?])(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class AIComment:
    """One AI comment: ``line`` holds its marker, ``first_line`` is where its words start
    (both 1-based); ``text`` is the words without the comment syntax."""

    path: str
    line: int
    first_line: int
    text: str
    kind: Kind

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def syntax_for(path: str, text: str = "") -> Syntax:
    """The comment syntax of ``path``: by extension, file name, else a ``#!`` line."""
    pure = PurePosixPath(path)
    found = SYNTAX.get(pure.suffix.lower()) or SYNTAX.get(pure.name.lower())
    if found is not None:
        return found
    language = detect(path, text[:200].encode(errors="replace"))
    if language is not None:
        return SYNTAX[language.extensions[0]]
    return ANY_SYNTAX


def marker_of(words: str) -> Kind | None:
    """Whether a comment's words make it a change request, a question, or neither."""
    words = words.strip()
    found = _END.search(words) or _START.match(words)
    if found is None:
        return None
    return "change" if found.group(1) == "!" else "question"


def find_ai_comments(path: str, text: str) -> list[AIComment]:
    """The AI comments in ``text`` (the content of ``path``), in file order."""
    lowered = text.lower()
    if "ai!" not in lowered and "ai?" not in lowered and not re.search(r"ai\s+[!?]", lowered):
        return []  # nearly every file: no need to scan or parse
    line_markers, blocks = syntax_for(path, text)
    loose = (line_markers, blocks) == ANY_SYNTAX
    lines = text.split("\n")
    tree = _parse(path, text)
    found: list[AIComment] = []
    taken: set[int] = set()  # lines inside a block comment already found
    for start, end in blocks:
        for comment in _block_comments(path, text, lines, start, end, tree):
            found.append(comment)
            taken.update(range(comment.first_line, comment.line + 1))
    whole_line: dict[int, tuple[str, str]] = {}  # line → (marker, words) of whole-line comments
    candidates: list[tuple[int, str, str]] = []
    for number, line in enumerate(lines):
        for column, marker in _line_comment_starts(line, line_markers, loose):
            if tree is not None and not _is_comment(tree, number, line, column):
                continue
            words = line[column:].lstrip(marker[0]).strip()
            if not line[:column].strip() and not (number == 0 and line.startswith("#!")):
                whole_line[number] = (marker, words)
            candidates.append((number, marker, words))
            break  # the rest of the line is this comment
    for number, marker, words in candidates:
        kind = marker_of(words)
        if kind is None or number + 1 in taken:
            continue
        first = number
        while first - 1 in whole_line and whole_line[first - 1][0] == marker:
            above = whole_line[first - 1][1]
            if marker_of(above) is not None or not above:
                break  # another request, or a blank comment line, ends this one
            first -= 1
        words = " ".join(whole_line[n][1] for n in range(first, number)) + " " + words
        found.append(AIComment(path, number + 1, first + 1, words.strip(), kind))
    return sorted(found, key=lambda comment: comment.line)


def _line_comment_starts(line: str, markers: tuple[str, ...], loose: bool) -> list[tuple[int, str]]:
    """Every column where one of ``markers`` could open a comment, leftmost first."""
    starts: list[tuple[int, str]] = []
    for marker in markers:
        column = line.find(marker)
        while column >= 0:
            if not loose or column == 0 or line[column - 1].isspace():
                starts.append((column, marker))
            column = line.find(marker, column + 1)
    return sorted(starts)


def _block_comments(
    path: str, text: str, lines: list[str], start: str, end: str, tree: Tree | None
) -> list[AIComment]:
    found = []
    pattern = re.compile(re.escape(start) + r"(.*?)" + re.escape(end), re.DOTALL)
    for match in pattern.finditer(text):
        first = text.count("\n", 0, match.start())
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1)
        if tree is not None and not _is_comment(tree, first, lines[first], column):
            continue
        inner = [part.strip().lstrip("*").strip() for part in match.group(1).split("\n")]
        words = " ".join(part for part in inner if part)
        kind = marker_of(words)
        if kind is not None:
            last = first + match.group(0).count("\n")
            found.append(AIComment(path, last + 1, first + 1, words, kind))
    return found


def _parse(path: str, text: str) -> Tree | None:
    """The file's syntax tree, when the index has a grammar for its language."""
    language = detect(path, text[:200].encode(errors="replace"))
    tools = tools_for(language.name) if language is not None else None
    if tools is None:
        return None
    from tree_sitter import Parser

    # A parser of our own: the index's may be in use on another thread.
    return Parser(tools.parser.language).parse(text.encode("utf-8", errors="surrogateescape"))


def _is_comment(tree: Tree, row: int, line: str, column: int) -> bool:
    """Whether the parser sees a comment at this place (tree-sitter counts bytes)."""
    at = len(line[:column].encode("utf-8", errors="surrogateescape"))
    node = tree.root_node.descendant_for_point_range((row, at), (row, at + 1))
    while node is not None:
        if "comment" in node.type:
            return True
        node = node.parent
    return False
