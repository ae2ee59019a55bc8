"""Shared fixtures: an isolated home, a scripted model server, and temp git repositories."""

from __future__ import annotations

import compileall
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import tools.search
from agent import keys
from agent.vcs import git as vcs_git
from tools.base import ToolContext

from helpers import REPO_ROOT, SLUGIFY, SLUGIFY_TESTS, git
from scripted_llm import ScriptedLLM

KEY_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile Shipmate's sources once, before the workers start: where
    PYTHONDONTWRITEBYTECODE is set (CI, our machines) each of the suite's ~150 ``shipmate``
    processes would otherwise compile them again."""
    if not hasattr(session.config, "workerinput"):
        for package in ("agent", "tools", "prompts"):
            compileall.compile_dir(REPO_ROOT / package, quiet=1)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own HOME and XDG dirs: nothing touches the real user's files."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("SHIPMATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    keys.clear()
    vcs_git.forget()
    return home


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace; git never finds a repository above it, so "outside git" is."""
    root = tmp_path / "ws"
    root.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return root


@pytest.fixture
def ctx(ws: Path, tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=ws, log_dir=tmp_path / "logs")


@pytest.fixture(params=["rg", "python"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a grep test once with ripgrep and once with the pure-Python fallback."""
    if request.param == "python":
        monkeypatch.setattr(tools.search, "ripgrep", lambda: None)
    else:
        assert tools.search.ripgrep() is not None, "the ripgrep binary should be installed"
    return request.param


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a slugify() helper whose unicode test fails."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "textutil.py").write_text(SLUGIFY)
    (root / "test_textutil.py").write_text(SLUGIFY_TESTS)
    (root / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


# git commands that can lose the user's work, or publish it: Shipmate never runs them.
FORBIDDEN = (
    ("reset", "--hard"),
    ("checkout", "--"),
    ("clean",),
    ("stash",),
    ("push",),
    ("add", "-A"),
    ("add", "--all"),
    ("commit", "--amend"),
)


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every git command line Shipmate runs; none may be one that can lose work."""
    calls: list[list[str]] = []
    real = vcs_git._run

    def recording(argv: list[str], *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(vcs_git, "_run", recording)
    yield calls
    for argv in calls:
        words = argv[1:]
        while words and words[0].startswith("-"):  # git's own options, before the command
            words = words[1:]
        for bad in FORBIDDEN:
            assert words[: len(bad)] != list(bad), f"forbidden git command: {argv}"
