"""Commands run inside bubblewrap: the workspace writable, everything else read-only.

The sandbox sees the real file system read-only, the workspace writable (but not its
``.git``: commits go through the git tool), a private ``/tmp``, fresh ``/dev`` and
``/proc`` (with the host's kernel settings in ``/proc/sys`` read-only), its own PID namespace
(so nothing it starts outlives it), no network unless allowed, and a new user namespace, so
other users' private files stay private even when Shipmate runs as root. A private ``/run``
hides the sockets of host daemons (systemd, D-Bus, Docker), which a Unix socket reaches
without any network. When Shipmate runs as root, every capability is dropped, or the command
could simply remount the file system read-write or unmount what hides things from it.
The home folder is hidden but for the toolchains a build needs, and the workspace's secret
files are masked (``tools/sandbox_view.py``); the environment is cut down to an allowlist
before bubblewrap starts, so no API key reaches a command, not even through
``/proc/1/environ``. bwrap and bash are absolute paths found outside the workspace.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent import keys
from tools.executables import find, require
from tools.limits import Limits
from tools.sandbox_view import view_arguments

# Variables a command may see; anything else (API keys, tokens) is dropped.
ENV_ALLOWLIST = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYENV_ROOT", "PYENV_VERSION",
    "JAVA_HOME", "GOPATH", "GOROOT", "GOFLAGS", "CARGO_HOME", "RUSTUP_HOME", "NVM_DIR",
    "PNPM_HOME", "BUN_INSTALL", "DENO_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
)  # fmt: skip
FIXED_ENV = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "TMPDIR": "/tmp",
}
# Host kernel settings: writable by root (even without capabilities), so made read-only.
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger")

DENIAL_HINTS = [
    (
        re.compile(r"Read-only file system"),
        "the sandbox makes everything outside the workspace (and the workspace's .git) read-only",
    ),
    (
        re.compile(
            r"Network is unreachable|Temporary failure in name resolution|Could not resolve "
            r"host|Name or service not known|nodename nor servname|getaddrinfo|"
            r"No address associated with hostname|Failed to establish a new connection"
        ),
        "the sandbox has no network; the user can allow it with --allow-network",
    ),
    (
        re.compile(r"Permission denied|Operation not permitted"),
        "the sandbox keeps files outside the workspace off limits",
    ),
]


def command_env(pass_env: tuple[str, ...] = (), sandboxed: bool = True) -> dict[str, str]:
    """The environment for a command: the allowlist, the user's extra names, fixed values."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in ENV_ALLOWLIST or name.startswith("LC_") or name in pass_env
    }
    for name in pass_env:
        value = keys.for_command(name)  # an API key the user chose to pass, not the model's
        if name not in env and value is not None:
            env[name] = value
    env.update(FIXED_ENV)
    if sandboxed:
        env["XDG_CACHE_HOME"] = "/tmp/.cache"
    return env


@dataclass(frozen=True)
class SandboxSettings:
    workspace: Path
    allow_network: bool = False
    pass_env: tuple[str, ...] = ()
    home_allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bubblewrap:
    """A working bwrap binary and whether it may create a user namespace here."""

    path: str
    user_namespace: bool

    def argv(
        self,
        command: str,
        settings: SandboxSettings,
        reveal: Callable[[str], bool] | None = None,
        writable: tuple[Path, ...] = (),
    ) -> list[str]:
        """bwrap's command line for ``command``; ``reveal`` says which of the workspace's
        secret files a read rule lets commands see; ``writable``: Shipmate's own folders the
        command may write too (where a test runner leaves its report)."""
        workspace = str(settings.workspace)
        args = [self.path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for path in PROC_READ_ONLY:
            args += ["--ro-bind-try", path, path]
        args += ["--tmpfs", "/tmp"]
        args += _private_run(settings)
        before, after = view_arguments(settings.workspace, settings.home_allow, reveal)
        args += before
        args += ["--bind", workspace, workspace]
        git = settings.workspace / ".git"
        if git.exists():
            args += ["--ro-bind", str(git), str(git)]
        args += after
        for folder in writable:
            args += ["--bind", str(folder), str(folder)]
        if self.user_namespace:
            args.append("--unshare-user")
        args += _drop_capabilities()
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if not settings.allow_network:
            args.append("--unshare-net")
        args += ["--die-with-parent", "--new-session", "--chdir", workspace]
        return [*args, "--", require("bash"), "-c", command]


def _drop_capabilities() -> list[str]:
    """As root, drop every capability: bwrap leaves root its capabilities, with which a command
    could remount / read-write. Others have none there, and a setuid bwrap refuses the option."""
    return ["--cap-drop", "ALL"] if os.geteuid() == 0 else []


def _private_run(settings: SandboxSettings) -> list[str]:
    """An empty ``/run`` (and ``/var/run``), keeping its top-level links (NixOS's
    ``/run/current-system``) and, with the network on, the resolver file kept there."""
    args: list[str] = []
    for folder in (Path("/run"), Path("/var/run")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        args += ["--tmpfs", str(folder)]
        with contextlib.suppress(OSError):
            for entry in sorted(folder.iterdir()):
                if entry.is_symlink():
                    args += ["--symlink", os.readlink(entry), str(entry)]
    resolver = Path("/etc/resolv.conf").resolve()
    if settings.allow_network and resolver.is_relative_to("/run") and resolver.is_file():
        args += ["--ro-bind", str(resolver), str(resolver)]
    return args


@functools.cache
def find_bubblewrap() -> tuple[Bubblewrap | None, str]:
    """Probe, don't assume: run bwrap once to see what works (user namespaces can be off)."""
    path = find("bwrap")
    if path is None:
        return None, "bubblewrap (bwrap) is not installed"
    base = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid"]
    base += [*_drop_capabilities(), "--unshare-net", "--die-with-parent", "--new-session"]
    problem = ""
    for user_namespace in (True, False):
        probe = [*base, "--unshare-user"] if user_namespace else base
        try:
            done = subprocess.run(
                [*probe, "--", "true"],
                capture_output=True,
                text=True,
                timeout=10,
                env=command_env(),
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"bubblewrap could not start: {error}"
        if done.returncode == 0:
            return Bubblewrap(path, user_namespace), "bubblewrap"
        problem = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    return None, f"bubblewrap is installed but cannot run here ({problem})"


def denial_hint(output: str) -> str | None:
    """Why a failed sandboxed command may have failed, in words the model can act on."""
    for pattern, reason in DENIAL_HINTS:
        if pattern.search(output):
            return reason
    return None


@dataclass(frozen=True)
class Sandbox:
    """How commands run: inside bubblewrap when it works here, within limits either way."""

    settings: SandboxSettings
    bubblewrap: Bubblewrap | None
    limits: Limits = field(default_factory=Limits)
    problem: str = ""

    @property
    def active(self) -> bool:
        return self.bubblewrap is not None

    def prepare(
        self,
        command: str,
        outside: bool = False,
        reveal: Callable[[str], bool] | None = None,
        writable: tuple[Path, ...] = (),
    ) -> tuple[list[str], dict[str, str]]:
        """The argv and environment for ``command``; ``outside`` skips bubblewrap (approved);
        ``writable``: Shipmate's own folders the command may also write."""
        if outside or self.bubblewrap is None:
            env = command_env(self.settings.pass_env, sandboxed=False)
            return [require("bash"), "-c", command], env
        argv = self.bubblewrap.argv(command, self.settings, reveal, writable)
        return argv, command_env(self.settings.pass_env)
