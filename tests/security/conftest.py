"""Fixtures for the security suite: a workspace with attack targets beside it, and a sandbox.

Every target an attack aims at (an "outside" folder, a fake home) lives under /var/tmp, never
under /tmp: the sandbox gives each command a private /tmp, so a target there would survive an
attack for the wrong reason. ``watch()`` snapshots the targets; ``check()`` proves that nothing
in them changed and nothing appeared.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from security_helpers import HOSTS, SECRET, Guard, Site

from tools.base import ToolContext
from tools.limits import Limits
from tools.sandbox import Bubblewrap, Sandbox, SandboxSettings, find_bubblewrap


@pytest.fixture
def site(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The workspace, an outside folder with a secret, and a fake HOME, all under /var/tmp."""
    root = Path(tempfile.mkdtemp(prefix="shipmate-security-", dir="/var/tmp")).resolve()
    site = Site(root, root / "ws", root / "outside", root / "home")
    site.ws.mkdir()
    (site.outside / "folder").mkdir(parents=True)
    site.secret.write_text(SECRET)
    (site.outside / "folder" / "inner.txt").write_text(SECRET)
    (site.home / ".ssh").mkdir(parents=True)
    (site.home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n")
    (site.home / ".bashrc").write_text("# the user's shell startup file\n")
    (site.home / ".config").mkdir()
    monkeypatch.setenv("HOME", str(site.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(site.home / ".config"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(root))
    yield site
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o755)
    shutil.rmtree(root)


@pytest.fixture
def ws(site: Site) -> Path:
    """The workspace, beside the outside folder (overrides the top-level ``ws``)."""
    return site.ws


@pytest.fixture
def watch(site: Site) -> Callable[..., Guard]:
    """``watch(*more)`` snapshots the outside folder, the fake home, /etc/hosts and ``more``."""

    def take(*more: Path) -> Guard:
        return Guard([site.outside, site.home, HOSTS, *more])

    return take


@pytest.fixture(scope="session")
def bubblewrap() -> Bubblewrap:
    """A working bwrap; CI must have one, elsewhere the sandbox tests are skipped."""
    found, why = find_bubblewrap()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"the security suite must run in CI, but the sandbox cannot: {why}")
        pytest.skip(why)
    return found


@pytest.fixture
def box(site: Site, tmp_path: Path, bubblewrap: Bubblewrap) -> ToolContext:
    """A tool context whose commands run in the real sandbox, with tight limits."""
    # Attacks write to ~; make sure that is the fake home, whatever happens to the sandbox.
    assert os.path.expanduser("~") == str(site.home)
    ws = site.ws
    sandbox = Sandbox(
        SandboxSettings(ws.resolve(), allow_network=False),
        bubblewrap,
        Limits(memory_mb=512, max_processes=128),
    )
    return ToolContext(workspace=ws, log_dir=tmp_path / "logs", command_timeout=20, sandbox=sandbox)
