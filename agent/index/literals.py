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
MAX_MESSAGE = 400  # characters of a message compared
MAX_LINE = 1_000  # characters of a request's line searched (patterns stay cheap on any line)
MAX_PIECES = 12  # a literal of more placeholders than this is not a message

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
    r"(?:^|\s)(?:[\w.]{0,60}(?:Error|Exception|Warning|Exit)|WARNING|ERROR|CRITICAL|FATAL|"
    r"[Ee]rror|[Ww]arning)\s*:\s*(?P<message>.{12,})$"
)
_QUOTED = re.compile(r""""([^"\n]{12,200})"|(?<!\w)'([^'\n]{12,200})'(?!\w)|`([^`\n]{12,200})`""")


def messages(text: str) -> list[str]:
    """What the request quotes from a program's output: error lines (or the line after an
    error's heading), lines of several words inside fenced blocks, quoted phrases."""
    found: list[str] = []
    heading = False
    fenced = False
    kebabs: list[str] = []
    for line in text.splitlines():
        line = line[:MAX_LINE]
        kebabs.extend(match.group() for match in _KEBAB.finditer(line))
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
    return list(dict.fromkeys(found))[:MAX_MESSAGES] + list(dict.fromkeys(kebabs))[:MAX_MESSAGES]


def is_kebab(message: str) -> bool:
    return _KEBAB.fullmatch(message) is not None


def message_words(message: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(message)]


# A literal's fixed pieces, in order, each to be found after the one before (placeholders
# between them stand for at least one character); or, for a message id, a pattern.
Template = tuple[str, ...] | re.Pattern[str]


def templates(source: str) -> list[Template]:
    """The templates of the string literals of ``source`` that are specific enough."""
    found = []
    for match in _LITERAL.finditer(source):
        pattern = template(match.group(1) or match.group(2))
        if pattern is not None:
            found.append(pattern)
    return found


def fold(message: str) -> str:
    """A message as templates are matched against it: one line, lower case, bounded."""
    return " ".join(message.split()).lower()[:MAX_MESSAGE]


def fills(template: Template, message: str) -> bool:
    """Whether ``message`` (folded) is ``template`` filled in.

    Each piece is found at its earliest place after the one before: if any placement fits,
    that one does. Linear in the message, whatever a repository's literals hold (a regular
    expression of many wildcards could backtrack for minutes).
    """
    if isinstance(template, re.Pattern):
        return template.search(message) is not None
    position = message.find(template[0])
    if position < 0:
        return False
    position += len(template[0])
    for piece in template[1:]:
        position = message.find(piece, position + 1)
        if position < 0:
            return False
        position += len(piece)
    return True


@lru_cache(maxsize=4096)
def template(literal: str) -> Template | None:
    """The literal as a template, if its fixed text is words enough to be specific
    (``'%s: %s'`` or ``'Unused %s'`` is not); a message id as itself (``unused-import``)."""
    if is_kebab(literal):
        return re.compile(rf"(?<![\w\-]){re.escape(literal.lstrip('-'))}(?![\w\-])")
    pieces = [piece.strip() for piece in _PLACEHOLDER.split(fold(literal)) if piece.strip()]
    if len(pieces) > MAX_PIECES or not any(_words(piece) >= 2 for piece in pieces):
        return None
    if sum(_words(piece) for piece in pieces) < MIN_WORDS:
        return None
    return tuple(pieces)


def _words(text: str) -> int:
    return sum(1 for token in text.split() if _WORD.search(token))
