"""``shipmate index``, ``shipmate map`` and ``shipmate symbols`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.index.cli import index_command, map_command, symbols_command
from agent.index.repomap import estimate_tokens

from helpers import git, run_cli


def run_json(*args: str, cwd: Path) -> dict:
    done = run_cli(*args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_index_json_cold_then_warm(repo: Path, isolated_home: Path) -> None:
    first = run_json("index", cwd=repo)
    assert first["root"] == str(repo.resolve())
    assert first["files"] == 3  # textutil.py, test_textutil.py, .gitignore
    assert first["symbols"] == 3  # slugify, test_ascii, test_unicode
    assert first["languages"] == {"python": 2, "other": 1}
    assert first["cold"] is True and first["parsed"] == 3 and first["read"] == 3
    assert isinstance(first["seconds"], float) and first["seconds"] >= 0
    assert (isolated_home / ".cache" / "shipmate" / "index.sqlite").is_file()
    second = run_json("index", cwd=repo)
    assert second["cold"] is False
    assert (second["parsed"], second["read"]) == (0, 0)
    assert (second["files"], second["symbols"]) == (3, 3)


def test_index_text_output(repo: Path) -> None:
    done = run_cli("index", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Indexed 3 files in ")
    assert "(cold: 3 parsed, 3 read): 3 definitions" in done.stdout
    assert "python 2 · other 1" in done.stdout
    again = run_cli("index", "-C", str(repo), cwd=repo.parent)
    assert "(warm: 0 parsed, 0 read)" in again.stdout


def test_map_json(repo: Path) -> None:
    result = run_json("map", "--query", "slugify drops accents", "--tokens", "300", cwd=repo)
    assert set(result) == {"files", "map", "tokens", "seconds"}
    paths = [entry["path"] for entry in result["files"]]
    assert sorted(paths) == [".gitignore", "test_textutil.py", "textutil.py"]
    assert paths[0] == "textutil.py"
    assert all(set(entry) == {"path", "score"} for entry in result["files"])
    scores = [entry["score"] for entry in result["files"]]
    assert scores == sorted(scores, reverse=True)
    assert result["map"].startswith("textutil.py:\n")
    assert result["tokens"] == estimate_tokens(result["map"]) <= 300
    assert result["seconds"] >= 0


def test_map_text(repo: Path) -> None:
    done = run_cli("map", "-q", "slugify", cwd=repo)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["textutil.py:", "     4│ def slugify(text):"]
    assert "test_textutil.py:" in lines


def test_map_focus_is_relative_to_where_you_are(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "titles.py").write_text(
        "from textutil import slugify\n\n\ndef title_slug(title):\n    return slugify(title)\n"
    )
    result = run_json("map", "--focus", "titles.py", cwd=repo / "pkg")
    paths = [entry["path"] for entry in result["files"]]
    assert paths[:2] == ["pkg/titles.py", "textutil.py"]
    assert result["map"].startswith("pkg/titles.py:\n     4│ def title_slug(title):")
    done = run_cli("map", "--focus", "pkg/titles.py", cwd=repo)
    assert done.stdout.startswith("pkg/titles.py:\n")


def test_map_budget_must_be_positive(repo: Path) -> None:
    done = run_cli("map", "--tokens", "0", cwd=repo)
    assert done.returncode == 2
    assert "--tokens" in done.stderr
    assert done.stdout == ""


def test_symbols(repo: Path) -> None:
    done = run_cli("symbols", "slugify", cwd=repo)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["Definitions of slugify:", "  textutil.py:4  def slugify(text):"]
    assert lines[2] == "Uses (3):"
    assert "  test_textutil.py:1  from textutil import slugify" in lines
    assert '  test_textutil.py:5  assert slugify("Hello World") == "hello-world"' in lines
    result = run_json("symbols", "slugify", cwd=repo)
    assert result["definitions"] == [
        {"path": "textutil.py", "line": 4, "text": "def slugify(text):", "kind": "function"}
    ]
    assert len(result["references"]) == 3


def test_symbols_unknown_name(repo: Path) -> None:
    done = run_cli("symbols", "no_such_name", cwd=repo)
    assert done.returncode == 1
    assert "'no_such_name' is neither defined nor used" in done.stderr
    done = run_cli("symbols", "no_such_name", "--json", cwd=repo)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"definitions": [], "references": [], "references_total": 0}


def index_text(workspace: Path, capsys: pytest.CaptureFixture[str], **options: bool) -> str:
    assert index_command(workspace, as_json=False, watch=False, **options) == 0
    return capsys.readouterr().out


def test_index_says_what_it_skipped_and_why(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "vendor" / "lib").mkdir(parents=True)
    (repo / "vendor" / "lib" / "a.js").write_text("function a() {}\n")
    (repo / "vendor" / "b.js").write_text("function b() {}\n")
    (repo / "poetry.lock").write_text("[[package]]\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\x00\x00" * 100)
    (repo / "bundle.js").write_text("var a=1;" * 400)
    (repo / "notes.py").write_text("def note():\n    pass\n")
    (repo / ".shipmateignore").write_text("notes.py\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more")
    text = index_text(repo, capsys)
    assert "  5 skipped: " in text and "(--verbose lists them)" in text
    verbose = index_text(repo, capsys, verbose=True).splitlines()
    at = verbose.index("  binary:")
    assert verbose[at : at + 2] == ["  binary:", "    logo.png"]
    for reason, path in [
        ("vendored", "vendor/"),
        ("lock file", "poetry.lock"),
        ("minified", "bundle.js"),
        (".shipmateignore", "notes.py"),
    ]:
        assert verbose[verbose.index(f"  {reason}:") + 1] == f"    {path}"
    assert index_command(repo, as_json=True, watch=False) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["skipped"] == 5
    assert result["skipped_files"] == [
        {"path": "bundle.js", "reason": "minified"},
        {"path": "logo.png", "reason": "binary"},
        {"path": "notes.py", "reason": ".shipmateignore"},
        {"path": "poetry.lock", "reason": "lock file"},
        {"path": "vendor/", "reason": "vendored"},
    ]


def test_one_file_is_one_file(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "main.py").write_text("def main():\n    pass\n")
    assert index_text(ws, capsys).startswith("Indexed 1 file in ")
    assert "): 1 definition\n  python 1\n" in index_text(ws, capsys)


def test_map_says_when_a_focus_file_is_not_indexed(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "app.min.js").write_text("var a=1;\n")
    monkeypatch.chdir(repo)
    focus = ["nope.py", "app.min.js", ".git", "textutil.py"]
    assert map_command(repo, "slugify", focus, 512, as_json=False) == 0
    out, err = capsys.readouterr()
    assert out.startswith("textutil.py:\n")
    assert err.splitlines() == [
        "note: --focus nope.py: no such file; the map is ranked without it.",
        "note: --focus app.min.js: not indexed (generated); the map is ranked without it.",
        "note: --focus .git: a folder, not a file; the map is ranked without it.",
    ]


USER = """from store import Cache, Registry


def load(cache: Cache, registry: Registry):
    # get is only mentioned here, and in the string below
    print("cache.get(key) is slow")
    value = cache.get("a") or cache.get("b")
    return registry.get(value)
"""
STORE = """class Cache:
    def get(self, key):
        return None


class Registry:
    def get(self, key):
        return None
"""


def test_symbols_lists_real_uses_with_their_total(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ws / "store.py").write_text(STORE)
    (ws / "user.py").write_text(USER)
    (ws / "many.py").write_text("".join(f"x{n} = source.get({n})\n" for n in range(130)))
    assert symbols_command(ws, "get", as_json=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "Definitions of get:",
        "  store.py:2  def get(self, key):",
        "  store.py:7  def get(self, key):",
        "Uses (133):",
    ]
    assert lines[4:6] == ["  many.py:1  x0 = source.get(0)", "  many.py:2  x1 = source.get(1)"]
    assert lines[-1] == "  and 33 more"
    assert len(lines) == 4 + 100 + 1
    assert symbols_command(ws, "get", as_json=True) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["references_total"] == 133 and len(result["references"]) == 100
    (ws / "many.py").unlink()
    assert symbols_command(ws, "Cache.get", as_json=False) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Definitions of Cache.get:",
        "  store.py:2  def get(self, key):",
        "Uses of get in files that use Cache (3):",
        '  user.py:7  value = cache.get("a") or cache.get("b")',
        "  user.py:8  return registry.get(value)",
    ]
    assert symbols_command(ws, "Registry::get()", as_json=False) == 0
    assert "  store.py:7  def get(self, key):" in capsys.readouterr().out
