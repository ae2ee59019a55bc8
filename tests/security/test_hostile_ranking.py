"""The ranking reads files and takes paths from the request: a hostile repository must not
turn that into a read outside the workspace or a hang (``agent/index/rank.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from security_helpers import Site

from agent.index.index import CodeIndex
from agent.index.request import read_request
from agent.index.store import Store

from helpers import committed

MESSAGE = "the deploy token is invalid for this host"


def indexed(site: Site, files: dict[str, str], tmp_path: Path) -> CodeIndex:
    committed(site.ws, files)
    index = CodeIndex(site.ws, Store(tmp_path / "index.sqlite"))
    index.refresh()
    return index


def test_attack_message_literal_behind_links_for_the_ranking_to_read(
    site: Site, tmp_path: Path
) -> None:
    """The messages a request quotes are looked for in files' string literals: files linked
    out of the workspace (a file link, a folder link) are never read for it."""
    (site.outside / "deploy.py").write_text(f'raise ValueError("{MESSAGE[:-9]} %s")\n')
    index = indexed(
        site,
        {
            "app/deploy.py": "def deploy(host):\n    return host\n",
            "app/token.py": "def token():\n    return 'deploy token host invalid'\n",
        },
        tmp_path,
    )
    (site.ws / "notes.py").symlink_to(site.outside / "deploy.py")
    (site.ws / "vendor").symlink_to(site.outside)
    index.update(["notes.py", "vendor/deploy.py"])
    request = f"Deploying fails:\n\n```\nValueError: {MESSAGE}\n```\n"
    ranking = [path for path, _ in index.ranking(request)]
    assert set(ranking) == {"app/deploy.py", "app/token.py"}
    assert index.read_text("notes.py") is None
    assert index.read_text("vendor/deploy.py") is None
    assert index.read_text("../outside/deploy.py") is None
    assert index.ranker.quoting(f"ValueError: {MESSAGE}", {}) == []


def test_attack_paths_in_the_request_that_lead_outside(site: Site, tmp_path: Path) -> None:
    """Tracebacks and links in a request name files: only indexed files ever come of them."""
    index = indexed(site, {"app/secret.py": "def secret():\n    return 1\n"}, tmp_path)
    outside = site.outside / "secret.txt"
    request = (
        f'  File "{outside}", line 1, in secret\n'
        '  File "../outside/secret.txt", line 1, in secret\n'
        '  File "~/.ssh/id_rsa", line 1, in key\n'
        "see /proc/self/root/etc/passwd and app/../../outside/secret.txt\n"
    )
    ranking = [path for path, _ in index.ranking(request)]
    assert ranking == ["app/secret.py"]
    for path in (str(outside), "../outside/secret.txt", "~/.ssh/id_rsa", "/etc/passwd"):
        assert index.ranker.resolve(path) is None


def test_attack_literals_built_to_make_matching_backtrack(site: Site, tmp_path: Path) -> None:
    """Literals full of placeholders against a long quoted line: a regular expression of
    wildcards would take minutes; matching piece by piece stays linear."""
    pieces = " %s ".join(["error token host"] * 12)
    literals = "\n".join(f"E{i} = '{pieces} x{i}'" for i in range(200))
    index = indexed(site, {"app/messages.py": literals + "\n"}, tmp_path)
    line = "error token host " * 600
    started = time.perf_counter()
    ranking = [path for path, _ in index.ranking(f"```\nRuntimeError: {line}\n```\n{line}")]
    assert ranking == ["app/messages.py"]
    assert time.perf_counter() - started < 10  # a guard against a hang, not a benchmark


@pytest.mark.parametrize(
    "text",
    [
        'File "' + "a" * 50 + ", " + "File a" * 20_000,
        "ab/" * 40_000,
        "ab." * 40_000,
        "ab-" * 40_000,
        ("ab/" * 300 + "\n") * 200,
        ("xy" * 450 + "\n") * 100,
        "from a import (" + "b, " * 30_000,
        "<!-- " * 30_000,
    ],
    ids=["frames", "path", "dots", "dashes", "path-lines", "long-lines", "import", "comments"],
)
def test_attack_request_built_to_make_reading_backtrack(text: str) -> None:
    """A prompt-injected model asks the repo map about a crafted query: each of these once
    took minutes (patterns searching for paths, links and frames backtracked on long runs)."""
    started = time.perf_counter()
    request = read_request(text)
    assert request.terms or text.startswith("<!--")  # read, not given up on
    assert time.perf_counter() - started < 5  # a guard against a hang, not a benchmark
