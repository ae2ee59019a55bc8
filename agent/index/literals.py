"""Error messages in a request, found again in the string literals of the code.

A bug report quotes what the program printed: ``This project needs the extension
sphinx_gallery.gen_gallery at least in version 0.6.0``. The file that prints it holds the
message as a literal, usually a template (``'This project needs the extension %s at least in
version %s'``), and is very often the file to change. A template's placeholders (``%s``,
``{}``, ``{name}``, ``%(name)r``) match any text, so the message is found however it was
filled in.
"""

from __future__ import annotations

import re
from functools import lru_cache

MIN_WORDS = 3  # a template's fixed text must hold this many words to say anything
MAX_MESSAGES = 12

# A one-line string literal, with its prefix if any (f"…", r'…'); not part of a """docstring""".
_LITERAL = re.compile(
    r"""(?<![\w"'])[rRbBuUfF]{0,2}(?:"([^"\n\\]{12,300})"|'([^'\n\\]{12,300})')(?!["'])"""
)
# A message id or an option: ``unused-import``, ``--ignore-patterns``.
_KEBAB = re.compile(r"(?<![\w\-./])-{0,2}[a-z][a-z0-9]*(?:-[a-z0-9]+)+(?![\w\-/])")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PLACEHOLDER = re.compile(r"%(?:\([\w.]+\))?[-#0 +]*\d*(?:\.\d+)?[sdrifgexXc]|\{[^{}]{0,80}\}")
_WORD = re.compile(r"[A-Za-z]{2,}")
_ERROR_LINE = re.compile(
    r"(?:^|\s)(?:[\w.]*(?:Error|Exception|Warning|Exit)|WARNING|ERROR|CRITICAL|FATAL|"
    r"[Ee]rror|[Ww]arning)\s*:\s*(?P<message>.{12,})$"
)
_QUOTED = re.compile(r""""([^"\n]{12,200})"|(?<!\w)'([^'\n]{12,200})'(?!\w)|`([^`\n]{12,200})`""")


def messages(text: str) -> list[str]:
    """What the request quotes from a program's output: error lines (or the line after an
    error's heading), lines of several words inside fenced blocks, quoted phrases."""
    found: list[str] = []
    heading = False
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = _ERROR_LINE.search(line)
        if match:
            found.append(match.group("message").strip())
        elif heading or (fenced and len(_WORD.findall(line)) > MIN_WORDS):
            found.append(line.strip())
        heading = line.rstrip().endswith(":") and len(line) < 80 and not line.startswith(" ")
    for match in _QUOTED.finditer(text):
        phrase = next(group for group in match.groups() if group)
        if len(_WORD.findall(phrase)) >= MIN_WORDS and " " in phrase:
            found.append(phrase)
    kebabs = [match.group() for match in _KEBAB.finditer(text)]
    return list(dict.fromkeys(found))[:MAX_MESSAGES] + list(dict.fromkeys(kebabs))[:MAX_MESSAGES]


def is_kebab(message: str) -> bool:
    return _KEBAB.fullmatch(message) is not None


def message_words(message: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(message)]


def templates(source: str) -> list[re.Pattern[str]]:
    """The patterns of the string literals of ``source`` that are specific enough."""
    found = []
    for match in _LITERAL.finditer(source):
        pattern = template(match.group(1) or match.group(2))
        if pattern is not None:
            found.append(pattern)
    return found


def fold(message: str) -> str:
    return " ".join(message.split()).lower()


@lru_cache(maxsize=4096)
def template(literal: str) -> re.Pattern[str] | None:
    """The literal as a pattern its filled-in text matches, if its fixed text is words
    enough to be specific (``'unused-import'`` or ``'%s: %s'`` is not)."""
    if is_kebab(literal):
        return re.compile(rf"(?<![\w\-]){re.escape(literal.lstrip('-'))}(?![\w\-])")
    pieces = [piece for piece in _PLACEHOLDER.split(fold(literal)) if piece.strip()]
    if not any(_words(piece) >= 2 for piece in pieces):
        return None
    if sum(_words(piece) for piece in pieces) < MIN_WORDS:
        return None
    return re.compile(".+?".join(re.escape(piece.strip()) for piece in pieces))


def _words(text: str) -> int:
    return sum(1 for token in text.split() if _WORD.search(token))
