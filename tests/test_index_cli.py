"""``shipmate index``, ``shipmate map`` and ``shipmate symbols`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from agent.index.repomap import estimate_tokens

from helpers import run_cli


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
    assert json.loads(done.stdout) == {"definitions": [], "references": []}
