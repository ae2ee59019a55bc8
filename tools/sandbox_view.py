"""What a sandboxed command sees of the file system beyond the read-only root.

A list of credential files will always miss one, so the home folder is hidden whole: the
command sees an empty, read-only folder there, with the toolchains a build needs bound back
read-only (a curated list, the folders on PATH, Shipmate's own Python, the active virtualenv,
and the user's ``sandbox.home_allow``). The XDG folders and Shipmate's own config, sessions,
logs and index are hidden wherever they live. Inside the workspace, which the command may
write, files that usually hold secrets (the names the file tools ask about) are masked by an
empty read-only file, unless a read rule of the user allows them; Shipmate's own Python, if
it lives inside the workspace, is bound read-only so no command can change what runs next.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import platformdirs

from agent.vcs import git
from tools.executables import own_installation, shipmate_inside
from tools.secret_files import SECRET_DIRS, is_secret_name

# Toolchains under the home folder that builds need, seen read-only (paths relative to ~).
TOOLCHAINS = (
    ".pyenv", ".rbenv", ".nvm", ".volta", ".asdf", ".sdkman", ".rustup", ".cargo/bin",
    ".cargo/registry", ".cargo/git", "go/bin", "go/pkg", ".local/bin", ".local/lib",
    ".local/share/uv", ".local/share/mise", ".local/share/pnpm", ".bun", ".deno", ".gradle/caches",
    ".gradle/wrapper", ".m2/repository", ".npm/_cacache", ".yarn/berry/cache", "miniconda3",
    "anaconda3", "miniforge3", "mambaforge", ".conda/envs", ".ghcup", ".elan", ".dotnet",
    ".nuget/packages", ".gitconfig", ".config/git/config", ".config/git/ignore",
    ".config/git/attributes",
)  # fmt: skip
# Credentials in a home folder, hidden even when it is visible (the workspace is the home)
# or when they are links to somewhere outside it (dotfile managers).
HOME_CREDENTIALS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".config/gcloud", ".config/gh",
    ".config/git/credentials", ".git-credentials", ".netrc", ".pypirc", ".npmrc", ".pgpass",
    ".vault-token", ".gem/credentials", ".m2/settings.xml", ".cargo/credentials",
    ".cargo/credentials.toml", ".terraformrc", ".terraform.d/credentials.tfrc.json",
    ".config/rclone", ".cache/huggingface/token", ".local/share/uv/credentials",
    ".huggingface/token", ".bash_history",
    ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".node_repl_history",
    ".local/share/fish/fish_history", ".config/shipmate", ".local/share/shipmate",
    ".cache/shipmate", ".local/state/shipmate",
)  # fmt: skip
PRIVATE_TMP = Path("/tmp")
# Variables that name a credential file or folder, wherever it lives.
CREDENTIAL_VARIABLES = (
    "GOOGLE_APPLICATION_CREDENTIALS", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AZURE_CONFIG_DIR", "KUBECONFIG", "DOCKER_CONFIG", "NETRC",
    "GNUPGHOME", "PGPASSFILE", "VAULT_CONFIG_PATH", "CLOUDSDK_CONFIG", "GH_CONFIG_DIR",
    "NPM_CONFIG_USERCONFIG", "PIP_CONFIG_FILE", "CARGO_HOME", "TF_CLI_CONFIG_FILE",
    "HF_TOKEN_PATH",
)  # fmt: skip
XDG_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
# A folder's listing is reused while its inode and change time stay the same (a command can
# set a folder's mtime back, but not its ctime), unless it changed so recently that another
# change within the file system's clock tick could hide behind the same time.
_FRESH_NS = 2_000_000_000
_listings: dict[str, tuple[tuple[int, ...], tuple[list[str], list[str], list[str], list[str]]]] = {}


def home() -> Path | None:
    path = Path(os.path.expanduser("~"))
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return None
    return real if real != Path("/") and real.is_dir() else None


def hidden_areas() -> list[Path]:
    """Folders a command sees as empty and read-only: the home, XDG folders, Shipmate's own."""
    areas: list[Path] = []
    user_home = home()
    if user_home is not None:
        areas.append(user_home)
    candidates = [os.environ.get(name, "") for name in XDG_VARIABLES]
    candidates += [
        str(platformdirs.user_config_path("shipmate")),
        str(platformdirs.user_data_path("shipmate")),
        str(platformdirs.user_cache_path("shipmate")),
        str(platformdirs.user_state_path("shipmate")),
    ]
    for candidate in candidates:
        if not candidate or not os.path.isabs(candidate):
            continue
        real = Path(candidate).resolve()
        if real.is_dir() and real != Path("/") and not _inside(real, areas):
            areas = [area for area in areas if not area.is_relative_to(real)] + [real]
    return areas


def toolchains(home_allow: tuple[str, ...] = ()) -> list[Path]:
    """Folders and files a build needs, as the user named them (links not followed)."""
    found: list[Path] = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry):
            folder = Path(entry)
            environment = folder.parent
            is_environment = (environment / "pyvenv.cfg").exists() or (
                environment / "conda-meta"
            ).is_dir()
            found.append(environment if is_environment else folder)
    found += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent]
    for name in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        if os.environ.get(name):
            found.append(Path(os.environ[name]))
    user_home = Path(os.path.expanduser("~"))
    for relative in (*TOOLCHAINS, *home_allow):
        relative = relative.removeprefix("~/")
        found.append(Path(relative) if os.path.isabs(relative) else user_home / relative)
    return list(dict.fromkeys(found))


def _inside(path: Path, areas: list[Path]) -> bool:
    return any(path.is_relative_to(area) for area in areas)


def view_arguments(
    workspace: Path,
    home_allow: tuple[str, ...] = (),
    reveal: Callable[[str], bool] | None = None,
) -> tuple[list[str], list[str]]:
    """bubblewrap arguments for this view, in two parts: ``before`` goes before the workspace
    is bound, ``after`` after it (masks inside the workspace, read-only parts of it)."""
    names = ("HOME", "PATH", *XDG_VARIABLES, *CREDENTIAL_VARIABLES)
    environment = tuple(os.environ.get(name, "") for name in names)
    before, after, areas = _fixed_view(workspace, home_allow, environment)
    after = list(after) + _repository_arguments(workspace)
    secrets, configs = walk_workspace(workspace, reveal)
    for relative in configs:  # a repository nested in the workspace (a second checkout)
        scrubbed = scrubbed_git_config(workspace / relative)
        if scrubbed is not None:
            after += ["--ro-bind", scrubbed, str(workspace / relative)]
    for relative in secrets:
        target = workspace / relative
        if target.is_dir():
            after += ["--tmpfs", str(target), "--remount-ro", str(target)]
        else:
            after += ["--ro-bind", empty_file(), str(target)]
    after += [argument for area in areas for argument in ("--remount-ro", str(area))]
    return list(before), after


@functools.lru_cache(maxsize=16)
def _fixed_view(
    workspace: Path, home_allow: tuple[str, ...], environment: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Path, ...]]:
    """The part of the view that only changes with the environment (``environment`` is the
    cache key): hidden areas, toolchains bound back, credentials of the home."""
    areas = hidden_areas()
    before: list[str] = []
    after: list[str] = []
    later_hidden = [area for area in areas if area.is_relative_to(workspace)]
    for area in areas:
        if area not in later_hidden:
            before += ["--tmpfs", str(area)]
    visible: list[Path] = []
    for source, target, link in _toolchain_binds(workspace, home_allow, areas):
        if link is not None:
            before += ["--symlink", link, str(target)]
            continue
        # The user's git config may hold a token (an insteadOf URL, an extraheader).
        clean = scrubbed_git_config(source) if _is_git_config(target) else None
        before += ["--ro-bind", clean or str(source), str(target)]
        visible.append(target)
    for area in later_hidden:
        after += ["--tmpfs", str(area)]
    if shipmate_inside(workspace):
        own = str(own_installation())
        after += ["--ro-bind", own, own]
    after += _credential_masks(areas, workspace, visible)
    return tuple(before), tuple(after), tuple(areas)


def _toolchain_binds(
    workspace: Path, home_allow: tuple[str, ...], areas: list[Path]
) -> Iterator[tuple[Path, Path, str | None]]:
    """The toolchains to bind back into the hidden areas and the private /tmp (CI keeps its
    virtualenv in /tmp). One inside the workspace (an activated .venv) is visible anyway;
    following it would follow whatever link a command put there (.venv -> ~/.config)."""
    candidates = [path for path in toolchains(home_allow) if not _through(path, workspace)]
    return _bind_backs(candidates, [*areas, PRIVATE_TMP])


def _through(path: Path, workspace: Path) -> bool:
    """Whether ``path`` is reached through the workspace (written there, or by a link there)."""
    lexical = Path(os.path.normpath(path))
    located = _with_real_parent(lexical)
    return lexical.is_relative_to(workspace) or (
        located is not None and located.is_relative_to(workspace)
    )


def _is_git_config(path: Path) -> bool:
    return path.name == ".gitconfig" or (path.name == "config" and path.parent.name == "git")


def _bind_backs(
    candidates: list[Path], areas: list[Path]
) -> Iterator[tuple[Path, Path, str | None]]:
    """(source, target, link): a read-only bind of ``source`` at ``target``, or a symlink
    ``target -> link`` that recreates the user's layout inside a hidden area."""
    seen: set[Path] = set()
    for candidate in candidates:
        try:
            real = candidate.resolve()
            exists = real.exists()
        except (OSError, RuntimeError):
            continue
        if not exists or real in areas or any(area.is_relative_to(real) for area in areas):
            continue  # never bind a whole hidden area (or its parent) back
        lexical = _with_real_parent(candidate)
        linked = lexical is not None and lexical != real and candidate.is_symlink()
        if linked and lexical not in seen and _inside(lexical, areas):
            seen.add(lexical)
            yield lexical, lexical, os.readlink(candidate)
        if _inside(real, areas) and real not in seen:
            seen.add(real)
            yield real, real, None


def _with_real_parent(path: Path) -> Path | None:
    try:
        return path.parent.resolve() / path.name
    except (OSError, RuntimeError):
        return None


def _repository_arguments(workspace: Path) -> list[str]:
    """The workspace's git folders, read-only, even where they lie in a hidden area (a linked
    worktree of a repository in the home); every config file in them (submodules' and
    worktrees' too) and what they include, with the credentials a clone may keep there (a
    token in a remote's URL, CI's ``http.extraheader``) replaced."""
    repository = git.repository(workspace)
    if repository is None:
        return []
    args: list[str] = []
    folders = list(dict.fromkeys((repository.git_dir, repository.common_dir)))
    for folder in folders:
        if not folder.is_relative_to(workspace) and folder.is_dir():
            args += ["--ro-bind", str(folder), str(folder)]
    for config in _git_config_files(folders, [workspace, *folders]):
        scrubbed = scrubbed_git_config(config)
        if scrubbed is not None:
            args += ["--ro-bind", scrubbed, str(config)]
    return args


def _git_config_files(git_dirs: list[Path], visible: list[Path]) -> list[Path]:
    """Config files of the git folders (``modules/**/config`` and ``worktrees/*`` included)
    and the files they include, where a command can see them: in a visible place, or
    anywhere outside the hidden areas."""
    pending: list[Path] = []
    for folder in git_dirs:
        pending += [folder / "config", folder / "config.worktree"]
        for nested in ("modules", "worktrees"):
            if (folder / nested).is_dir():
                pending += [
                    path
                    for path in (folder / nested).rglob("config*")
                    if path.name in ("config", "config.worktree")
                ]
    areas = hidden_areas()
    found: list[Path] = []
    while pending and len(found) < 200:
        path = pending.pop(0)
        if path in found or not path.is_file():
            continue
        real = path.resolve()
        if _inside(real, areas) and not _inside(real, visible):
            continue  # hidden already
        found.append(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for included in _INCLUDE_PATH.findall(text):
            named = Path(os.path.expanduser(included.strip().strip('"')))
            pending.append(named if named.is_absolute() else path.parent / named)
    return found


_INCLUDE_PATH = re.compile(r"(?im)^\s*path\s*=\s*(.+?)\s*$")


_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s\"']+@")
# A key whose value is a credential; git also takes ``[section] key = value`` on one line.
_SECRET_KEY = re.compile(
    r"(?i)^(\s*(?:\[[^\]]*\]\s*)?[\w.-]*?(?:extraheader|pass|password|passwd|token|secret)\s*=)"
)


def scrub_credentials(text: str) -> str:
    """Git config text without the credentials a clone, CI or the user left in it: the user
    part of URLs, and the values of keys such as ``http.extraheader`` or
    ``sendemail.smtpPass`` (with the lines that continue them)."""
    kept: list[str] = []
    continued = False
    for line in text.splitlines(keepends=True):
        ends_continued = line.rstrip("\r\n").endswith("\\")
        if continued:
            continued = ends_continued
            continue
        secret = _SECRET_KEY.match(line)
        if secret:
            kept.append(secret.group(1) + " (hidden by Shipmate)\n")
            continued = ends_continued
            continue
        kept.append(_URL_USER.sub(r"\1", line))
    return "".join(kept)


def scrubbed_git_config(config: Path) -> str | None:
    """A private copy of ``config`` without credentials, or None if it holds none."""
    try:
        text = config.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    clean = scrub_credentials(text)
    if clean == text:
        return None
    return _private_copy(clean)


@functools.lru_cache(maxsize=256)
def _private_copy(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="shipmate-gitconfig-")
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)
    atexit.register(_remove, path)
    return path


def _credential_masks(areas: list[Path], workspace: Path, visible: list[Path]) -> list[str]:
    """Credentials that a hidden area does not already cover: inside a toolchain bound back
    (uv keeps its credentials under ``~/.local/share/uv``), the home inside the workspace,
    or a credential folder linked to somewhere outside the home."""
    user_home = Path(os.path.expanduser("~"))
    named = [
        value
        for variable in CREDENTIAL_VARIABLES
        for value in os.environ.get(variable, "").split(os.pathsep)  # KUBECONFIG is a list
        if os.path.isabs(value) and variable != "CARGO_HOME"
    ]
    cargo = os.environ.get("CARGO_HOME", "")
    if os.path.isabs(cargo):
        named += [os.path.join(cargo, "credentials"), os.path.join(cargo, "credentials.toml")]
    args: list[str] = []
    for path in [*(user_home / relative for relative in HOME_CREDENTIALS), *map(Path, named)]:
        try:
            if not (path.exists() or path.is_symlink()):
                continue
            real = path.resolve()
        except (OSError, RuntimeError):
            continue
        for target in dict.fromkeys((_with_real_parent(path), real)):
            if target is None or not target.exists() or len(target.parts) < 3:
                continue  # never a top-level folder such as /etc, whatever a variable says
            if workspace.is_relative_to(target):
                continue
            exposed = target.is_relative_to(workspace) or _inside(target, visible)
            if _inside(target, areas) and not exposed:
                continue
            if target.is_dir():
                args += ["--tmpfs", str(target), "--remount-ro", str(target)]
            else:
                args += ["--ro-bind", empty_file(), str(target)]
    return args


def workspace_secrets(workspace: Path, reveal: Callable[[str], bool] | None = None) -> list[str]:
    """Paths (relative) in the workspace that usually hold secrets: files by name, and the
    credential folders; none inside a folder already listed."""
    return walk_workspace(workspace, reveal)[0]


def walk_workspace(
    workspace: Path, reveal: Callable[[str], bool] | None = None
) -> tuple[list[str], list[str]]:
    """The workspace's secret files (relative paths, as ``workspace_secrets``) and its git
    config files, in any repository nested in it (relative paths too).

    Every folder is walked: what the workspace holds may not decide what is left out (a
    command can rename a folder to ``node_modules`` or drop a ``pyvenv.cfg`` in it), and a
    folder that cannot be listed is masked whole. Listings are kept while a folder is
    unchanged, so a walk after the first stats folders only.
    """
    found: list[str] = []
    configs: list[str] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        listing = _listing(os.path.join(workspace, folder) if folder else str(workspace))
        if listing is None:
            if folder and os.path.isdir(os.path.join(workspace, folder)):
                found.append(folder)  # it may hold anything, and a command can open it later
            continue
        subfolders, secret_folders, secret_files, git_configs = listing
        for name in (*secret_folders, *secret_files):
            relative = f"{folder}/{name}" if folder else name
            if not (reveal and reveal(relative)):
                found.append(relative)
        configs += [f"{folder}/{name}" for name in git_configs]
        pending += [f"{folder}/{name}" if folder else name for name in subfolders]
    return sorted(found), sorted(configs)


_Listing = tuple[list[str], list[str], list[str], list[str]]


def _listing(path: str) -> _Listing | None:
    """A folder's subfolders to walk, its secret folders, its secret files, and its git config
    files (``config``, ``config.worktree`` inside a ``.git`` folder)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    key = (info.st_dev, info.st_ino, info.st_ctime_ns, info.st_mtime_ns)
    cached = _listings.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    listing: _Listing = ([], [], [], [])
    subfolders, secret_folders, secret_files, git_configs = listing
    in_git = ".git" in Path(path).parts
    try:
        entries = list(os.scandir(path))
    except OSError:
        return None
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name.strip().lower() in SECRET_DIRS:
                secret_folders.append(entry.name)
            else:
                subfolders.append(entry.name)
        elif entry.is_symlink():
            continue
        elif is_secret_name(entry.name):
            secret_files.append(entry.name)
        elif in_git and entry.name in ("config", "config.worktree"):
            git_configs.append(entry.name)
    if time.time_ns() - max(info.st_ctime_ns, info.st_mtime_ns) > _FRESH_NS:
        _listings[path] = (key, listing)
    return listing


@functools.cache
def empty_file() -> str:
    """An empty read-only file to bind over secrets (removed when Shipmate exits)."""
    fd, path = tempfile.mkstemp(prefix="shipmate-empty-")
    os.close(fd)
    os.chmod(path, 0o444)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def describe(workspace: Path, home_allow: tuple[str, ...] = ()) -> list[str]:
    """What a command sees, in lines for ``shipmate doctor``."""
    areas = hidden_areas()
    lines = ["hidden (empty, read-only): " + ", ".join(_shown(area) for area in areas)]
    bound = sorted(target for _, target, _ in _toolchain_binds(workspace, home_allow, areas))

    outermost = [
        path
        for path in bound
        if not any(path != other and path.is_relative_to(other) for other in bound)
    ]
    visible = [_shown(path) for path in outermost]
    lines.append("seen read-only in them: " + (", ".join(visible) if visible else "nothing"))
    if shipmate_inside(workspace):
        own = own_installation().relative_to(workspace).as_posix()
        lines.append(f"read-only in the workspace: {own} (Shipmate's own Python)")
    secrets = workspace_secrets(workspace)
    if secrets:
        shown = ", ".join(secrets[:5]) + (
            f" and {len(secrets) - 5} more" if len(secrets) > 5 else ""
        )
        lines.append(f"masked in the workspace: {shown}")
    else:
        lines.append("masked in the workspace: nothing (no file looks like it holds secrets)")
    return lines


def _shown(path: Path) -> str:
    user_home = home()
    if user_home is not None and path.is_relative_to(user_home):
        return "~" if path == user_home else "~/" + path.relative_to(user_home).as_posix()
    return str(path)
