"""The AI comment finder: each comment syntax, AI! against AI?, case, comments spanning
lines, and markers inside strings, which are not comments where a grammar can tell."""

from __future__ import annotations

import pytest

from agent.context.ai_comments import find_ai_comments, marker_of


def found(path: str, text: str) -> list[tuple[int, str, str]]:
    return [(c.line, c.kind, c.text) for c in find_ai_comments(path, text)]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("a.py", "x = 1  # fix this AI!\n"),
        ("a.rb", "x = 1 # fix this AI!\n"),
        ("run", "#!/bin/bash\necho hi # fix this AI!\n"),  # no extension: by its #! line
        ("a.js", "let x = 1; // fix this AI!\n"),
        ("a.go", "x := 1 /* fix this AI! */\n"),
        ("a.sql", "select 1; -- fix this AI!\n"),
        ("a.lua", "local x = 1 -- fix this AI!\n"),
        ("a.el", "(setq x 1) ; fix this AI!\n"),
        ("a.html", "<p>x</p> <!-- fix this AI! -->\n"),
        ("a.md", "Some prose.\n\n<!-- fix this AI! -->\n"),
        ("a.css", "p { color: red; } /* fix this AI! */\n"),
        ("a.php", "<?php\n$x = 1; # fix this AI!\n"),
    ],
)
def test_each_comment_syntax(path: str, text: str) -> None:
    line = text.count("\n")
    assert found(path, text) == [(line, "change", "fix this AI!")]


def test_a_change_or_a_question_whatever_the_case() -> None:
    assert marker_of("fix this AI!") == "change"
    assert marker_of("why? AI?") == "question"
    assert marker_of("fix this ai!") == "change"
    assert marker_of("why Ai ?") == "question"
    assert marker_of("AI! add a test") == "change"  # the marker may open the comment
    assert marker_of("ai? what is this") == "question"


@pytest.mark.parametrize(
    "words",
    ["an AI model", "AI", "fix this AI", "Hawaii!", "say hai!", "the AI! is here", "AIM? no"],
)
def test_not_a_request(words: str) -> None:
    assert marker_of(words) is None
    assert found("a.py", f"x = 1  # {words}\n") == []


def test_comment_lines_just_above_belong_to_the_request() -> None:
    text = (
        "# An ordinary comment.\n"
        "#\n"
        "# Make it handle\n"
        "# unicode too. AI!\n"
        "def slugify(text):\n"
        "    return text\n"
    )
    comment = find_ai_comments("a.py", text)[0]
    assert (comment.first_line, comment.line) == (3, 4)
    assert comment.text == "Make it handle unicode too. AI!"


def test_two_requests_one_above_the_other_stay_two() -> None:
    text = "// first AI!\n// second AI?\nlet x = 1;\n"
    assert found("a.js", text) == [(1, "change", "first AI!"), (2, "question", "second AI?")]


def test_a_block_comment_over_lines() -> None:
    text = "/*\n * Explain the retry\n * loop here. AI?\n */\nfunc f() {}\n"
    comment = find_ai_comments("a.go", text)[0]
    assert (comment.first_line, comment.line, comment.kind) == (1, 4, "question")
    assert comment.text == "Explain the retry loop here. AI?"


def test_markers_inside_strings_are_not_comments_where_a_grammar_knows() -> None:
    assert found("a.py", 'x = "# fix AI!"\n') == []
    assert found("a.py", "x = '''\n# fix AI!\n'''\n") == []
    assert found("a.js", 'const u = "// fix AI!";\n') == []
    assert found("a.js", 'const s = "/* fix AI! */";\n') == []
    assert found("a.rs", 'let s = "-- // fix AI!";\n') == []
    # A string before the real comment on the same line.
    assert found("a.js", 'fetch("http://x"); // retry AI!\n') == [(1, "change", "retry AI!")]
    assert found("a.py", 'x = "#"  # why? AI?\n') == [(1, "question", "why? AI?")]


def test_markdown_prose_and_headings_are_not_comments() -> None:
    text = "# Setup AI!\n\nRun it -- now AI!\n"
    assert found("README.md", text) == []


def test_the_syntax_of_other_languages_does_not_count() -> None:
    assert found("a.c", "int x; // AI!\n") == [(1, "change", "AI!")]
    assert found("a.c", "#include <x.h> AI!\n") == []  # '#' is no comment in C
    assert found("a.py", "x = 1 // 2  AI!\n") == []  # nor '//' in Python


def test_unknown_files_take_any_syntax_after_a_space() -> None:
    assert found("notes.txt", "see http://example.com AI!\n") == []
    assert found("notes.txt", "todo // tidy up AI!\n") == [(1, "change", "tidy up AI!")]


def test_a_file_without_markers_is_not_parsed() -> None:
    assert find_ai_comments("a.py", "def f():\n    return 'ai'\n") == []
