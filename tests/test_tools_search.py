"""grep with the real ripgrep binary and with the pure-Python fallback, on the same trees."""

from __future__ import annotations

from pathlib import Path

import pytest

import tools.search
from tools.base import ToolContext, ToolError
from tools.search import Grep

from helpers import git


def make_tree(ws: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = ws / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


async def grep_lines(ctx: ToolContext, **kw: object) -> list[str]:
    result = await Grep(**kw).run(ctx)  # type: ignore[arg-type]
    return sorted(result.output.splitlines())


async def test_regex_match_path_line_text(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(
        ws,
        {
            "a.py": "def foo():\n    return 1\n\ndef foobar(x):\n    pass\n",
            "pkg/b.py": "x = 1\ndef food(): ...\n",
            "c.txt": "nothing to see\n",
        },
    )
    result = await Grep(pattern=r"def foo\w*\(").run(ctx)
    assert sorted(result.output.splitlines()) == [
        "a.py:1:def foo():",
        "a.py:4:def foobar(x):",
        "pkg/b.py:2:def food(): ...",
    ]
    assert result.summary == "3 lines"
    assert not result.is_error


async def test_ignore_case(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.txt": "Hello\nHELLO\nhello\nhelp\n"})
    assert await grep_lines(ctx, pattern="hello") == ["a.txt:3:hello"]
    assert await grep_lines(ctx, pattern="hello", ignore_case=True) == [
        "a.txt:1:Hello",
        "a.txt:2:HELLO",
        "a.txt:3:hello",
    ]


async def test_glob_filter(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(
        ws,
        {"a.py": "TODO py\n", "sub/b.py": "TODO deep py\n", "c.md": "TODO md\n", "d.ts": "TODO\n"},
    )
    assert await grep_lines(ctx, pattern="TODO", glob="*.py") == [
        "a.py:1:TODO py",
        "sub/b.py:1:TODO deep py",
    ]
    assert await grep_lines(ctx, pattern="TODO", glob="*.{md,ts}") == [
        "c.md:1:TODO md",
        "d.ts:1:TODO",
    ]


async def test_glob_with_folder(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"src/a.py": "hit\n", "src/x/b.py": "hit\n", "lib/c.py": "hit\n"})
    assert await grep_lines(ctx, pattern="hit", glob="src/**/*.py") == [
        "src/a.py:1:hit",
        "src/x/b.py:1:hit",
    ]


async def test_files_output_mode(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.py": "needle\nneedle\n", "b/c.py": "hay\nneedle\n", "d.py": "hay\n"})
    result = await Grep(pattern="needle", output="files").run(ctx)
    assert sorted(result.output.splitlines()) == ["a.py", "b/c.py"]
    assert result.summary == "2 files"


async def test_context_lines(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.txt": "one\ntwo\nthree\nMATCH\nfive\nsix\nseven\n"})
    result = await Grep(pattern="MATCH", context=2).run(ctx)
    assert result.output.splitlines() == [
        "a.txt-2-two",
        "a.txt-3-three",
        "a.txt:4:MATCH",
        "a.txt-5-five",
        "a.txt-6-six",
    ]


async def test_context_lines_at_file_edges(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.txt": "MATCH\nmiddle\nMATCH\n"})
    result = await Grep(pattern="MATCH", context=1).run(ctx)
    assert result.output.splitlines() == ["a.txt:1:MATCH", "a.txt-2-middle", "a.txt:3:MATCH"]


async def test_no_phantom_line_after_final_newline(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.txt": "first\n\nthird\n"})
    assert await grep_lines(ctx, pattern="^$") == ["a.txt:2:"]


async def test_limit_trailer(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"many.txt": "".join(f"hit {n}\n" for n in range(30))})
    result = await Grep(pattern="hit", limit=10).run(ctx)
    lines = result.output.splitlines()
    assert len(lines) == 11
    assert all(line.startswith("many.txt:") for line in lines[:10])
    assert lines[10] == "(20 more lines not shown; narrow the search)"
    assert result.summary == "30 lines"


async def test_exactly_at_limit_has_no_trailer(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"many.txt": "".join(f"hit {n}\n" for n in range(10))})
    result = await Grep(pattern="hit", limit=10).run(ctx)
    assert len(result.output.splitlines()) == 10
    assert "not shown" not in result.output


async def test_gitignored_files_skipped_in_git_repo(
    ctx: ToolContext, ws: Path, engine: str
) -> None:
    make_tree(
        ws,
        {
            ".gitignore": "*.log\nbuild/\n",
            "app.py": "needle = 1\n",
            "debug.log": "needle in log\n",
            "build/gen.py": "needle generated\n",
        },
    )
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "init")
    make_tree(ws, {"new.py": "needle new\n"})
    assert await grep_lines(ctx, pattern="needle") == ["app.py:1:needle = 1", "new.py:1:needle new"]


async def test_gitignored_files_skipped_outside_git(
    ctx: ToolContext, ws: Path, engine: str
) -> None:
    make_tree(
        ws,
        {
            ".gitignore": "*.log\n",
            "sub/.gitignore": "private.txt\n",
            "app.py": "needle\n",
            "debug.log": "needle\n",
            "sub/private.txt": "needle\n",
            "sub/public.txt": "needle\n",
        },
    )
    assert await grep_lines(ctx, pattern="needle") == ["app.py:1:needle", "sub/public.txt:1:needle"]


async def test_hidden_files_searched_but_not_git_dir(
    ctx: ToolContext, ws: Path, engine: str
) -> None:
    make_tree(ws, {".env.example": "needle=1\n", "a.py": "x\n"})
    git(ws, "init", "-q")
    (ws / ".git" / "needle-note").write_text("needle in git internals\n")
    assert await grep_lines(ctx, pattern="needle") == [".env.example:1:needle=1"]


async def test_no_matches(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.py": "hello\n"})
    result = await Grep(pattern="absent_token_xyz").run(ctx)
    assert result.output == "No matches."
    assert result.summary == "no matches"
    assert not result.is_error


async def test_invalid_regex_is_tool_error(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.py": "foo(\n"})
    with pytest.raises(ToolError) as caught:
        await Grep(pattern="foo(").run(ctx)
    expected = "grep failed" if engine == "rg" else "Invalid regular expression"
    assert expected in str(caught.value)


async def test_ripgrep_invalid_regex_exit_code_is_2(ws: Path) -> None:
    """What the rg branch relies on: a bad pattern gives exit code 2 and nothing on stdout."""
    import subprocess

    rg = tools.search.ripgrep()
    assert rg is not None
    (ws / "a.py").write_text("foo(\n")
    done = subprocess.run([rg, "--regexp", "foo(", "--", "."], cwd=ws, capture_output=True)
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"regex parse error" in done.stderr


async def test_binary_files_skipped(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"blob.bin": b"needle\x00\x01\x02needle\n", "text.txt": "needle\n"})
    assert await grep_lines(ctx, pattern="needle") == ["text.txt:1:needle"]


async def test_search_single_file(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.py": "needle a\n", "sub/b.py": "needle b\nneedle c\n"})
    assert await grep_lines(ctx, pattern="needle", path="sub/b.py") == [
        "sub/b.py:1:needle b",
        "sub/b.py:2:needle c",
    ]


async def test_search_subfolder(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"a.py": "needle\n", "sub/b.py": "needle\n", "subway/c.py": "needle\n"})
    assert await grep_lines(ctx, pattern="needle", path="sub") == ["sub/b.py:1:needle"]


async def test_missing_path(ctx: ToolContext, engine: str) -> None:
    with pytest.raises(ToolError, match="nowhere does not exist"):
        await Grep(pattern="x", path="nowhere").run(ctx)


async def test_long_lines_are_cut(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"min.js": "needle" + "x" * 10_000 + "\n"})
    result = await Grep(pattern="needle").run(ctx)
    line = result.output.splitlines()[0]
    assert line.startswith("min.js:1:needle")
    assert len(line) < 500


async def test_non_utf8_file_searched(ctx: ToolContext, ws: Path, engine: str) -> None:
    make_tree(ws, {"fr.txt": "caf\xe9 needle\n".encode("latin-1")})
    lines = await grep_lines(ctx, pattern="needle")
    assert len(lines) == 1
    assert lines[0].startswith("fr.txt:1:caf")
    assert lines[0].endswith(" needle")


def test_python_fallback_called_directly(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {"a.py": "alpha\nbeta\n", "b.py": "beta\n", "skip.bin": b"beta\x00"})
    found = Grep(pattern="^beta$")._python(ctx, ctx.workspace)
    assert sorted(found) == [("a.py", ":2:beta"), ("b.py", ":1:beta")]
    assert Grep(pattern="beta", output="files")._python(ctx, ws / "b.py") == [("b.py", "")]
    with pytest.raises(ToolError, match="Invalid regular expression"):
        Grep(pattern="[unclosed")._python(ctx, ctx.workspace)


@pytest.mark.parametrize("output", ["lines", "files"])
async def test_secret_files_are_left_out_of_searches(
    ctx: ToolContext, ws: Path, engine: str, output: str
) -> None:
    make_tree(
        ws,
        {
            ".env": "API_TOKEN=sk-live-123\n",
            "deploy/id_rsa": "API_TOKEN in a key\n",
            "settings.py": "API_TOKEN = os.environ['API_TOKEN']\n",
        },
    )
    result = await Grep(pattern="API_TOKEN", output=output).run(ctx)
    assert "settings.py" in result.output
    assert "sk-live-123" not in result.output
    assert "id_rsa" not in result.output.splitlines()[0]
    assert "2 files that usually hold secrets, such as .env, are left out" in result.output


async def test_a_secret_file_searched_by_name_is_searched(
    ctx: ToolContext, ws: Path, engine: str
) -> None:
    make_tree(ws, {".env": "API_TOKEN=sk-live-123\n"})
    result = await Grep(pattern="API_TOKEN", path=".env").run(ctx)
    assert "sk-live-123" in result.output
