"""Helpers for tests: real git, and the real ``shipmate`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


SLUGIFY = """import re


def slugify(text):
    text = text.lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")
"""

SLUGIFY_TESTS = """from textutil import slugify


def test_ascii():
    assert slugify("Hello World") == "hello-world"


def test_unicode():
    assert slugify("Crème Brûlée") == "creme-brulee"
"""


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``shipmate ARGS`` as a user runs it: a new Python process, real stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
