"""Which language a file is in, and its tree-sitter parser and tags query.

Grammars come from the official per-language wheels. Each language uses the grammar's own
tags query where the wheel ships one, plus our ``queries/<name>.scm`` for what it lacks
(TypeScript, C# and Bash ship none; others miss references such as imports).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Parser, Query

QUERIES = Path(__file__).parent / "queries"


@dataclass(frozen=True)
class Tools:
    """A parser and the tags query, with patterns that tag neither kind switched off."""

    parser: Parser
    query: Query


@dataclass(frozen=True)
class Language:
    name: str
    module: str
    function: str
    extensions: tuple[str, ...]
    interpreters: tuple[str, ...] = ()
    extra_query: str | None = None


LANGUAGES = (
    Language("python", "tree_sitter_python", "language", (".py", ".pyi"), ("python",), "python"),
    Language(
        "javascript",
        "tree_sitter_javascript",
        "language",
        (".js", ".mjs", ".cjs", ".jsx"),
        ("node",),
        "javascript",
    ),
    Language(
        "typescript",
        "tree_sitter_typescript",
        "language_typescript",
        (".ts", ".mts", ".cts"),
        ("deno", "ts-node", "tsx"),
        "typescript",
    ),
    Language("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",), (), "typescript"),
    Language("go", "tree_sitter_go", "language", (".go",)),
    Language("rust", "tree_sitter_rust", "language", (".rs",), (), "rust"),
    Language("java", "tree_sitter_java", "language", (".java",), (), "java"),
    Language("c", "tree_sitter_c", "language", (".c", ".h"), (), "c"),
    Language(
        "cpp",
        "tree_sitter_cpp",
        "language",
        (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp"),
        (),
        "cpp",
    ),
    Language("csharp", "tree_sitter_c_sharp", "language", (".cs",), (), "c_sharp"),
    Language("ruby", "tree_sitter_ruby", "language", (".rb", ".rake", ".gemspec"), ("ruby",)),
    Language("php", "tree_sitter_php", "language_php", (".php",), ("php",), "php"),
    Language(
        "bash", "tree_sitter_bash", "language", (".sh", ".bash"), ("bash", "sh", "zsh"), "bash"
    ),
)
BY_NAME = {language.name: language for language in LANGUAGES}
BY_EXTENSION = {ext: language for language in LANGUAGES for ext in language.extensions}
BY_INTERPRETER = {name: language for language in LANGUAGES for name in language.interpreters}


def detect(path: str, head: bytes = b"") -> Language | None:
    """By extension, else by the ``#!`` line for scripts without one."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix:
        return BY_EXTENSION.get(suffix)
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].decode("latin-1").split()
        if words and words[0].endswith("/env") and len(words) > 1:
            words = [word for word in words[1:] if not word.startswith("-")]
        if words:
            program = words[0].rsplit("/", 1)[-1].rstrip("0123456789.")
            return BY_INTERPRETER.get(program)
    return None


@functools.cache
def tools_for(name: str) -> Tools | None:
    """The parser and tags queries of a language; None when its grammar is not installed."""
    # Imported here: deciding a file's language, and a warm start, need no parser.
    from tree_sitter import Language as Grammar
    from tree_sitter import Parser, Query

    language = BY_NAME[name]
    try:
        module = importlib.import_module(language.module)
    except ImportError:
        return None
    grammar = Grammar(getattr(module, language.function)())
    source = getattr(module, "TAGS_QUERY", None) or ""
    if language.extra_query:
        source += "\n" + (QUERIES / f"{language.extra_query}.scm").read_text(encoding="utf-8")
    query = Query(grammar, source)
    encoded = source.encode()
    for pattern in range(query.pattern_count):
        text = encoded[query.start_byte_for_pattern(pattern) : query.end_byte_for_pattern(pattern)]
        if b"@definition." not in text and b"@reference." not in text:
            query.disable_pattern(pattern)  # names that are neither (Go's package clause)
    return Tools(Parser(grammar), query)


def installed() -> list[str]:
    return [language.name for language in LANGUAGES if tools_for(language.name) is not None]
