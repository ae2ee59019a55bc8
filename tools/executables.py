"""The programs Shipmate itself runs outside the sandbox: bash, git, rg, bwrap.

They run as the user, with no sandbox around them, so none may come from a folder the
workspace controls: an activated ``.venv/bin`` inside the workspace sits on PATH, and a
sandboxed command could plant a ``git`` or ``bash`` there for Shipmate to run next. Each
program is looked up once on PATH, skipping relative entries and every folder inside a
workspace Shipmate works in, and is then run by its absolute path. Children that run outside
the sandbox get the same cleaned PATH, so git's own helpers cannot be planted either.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

_workspaces: set[Path] = set()


class MissingProgram(Exception):
    """A program Shipmate needs is not installed (outside the workspace)."""


def protect(workspace: Path) -> None:
    """Never run a program found inside ``workspace``: commands in the sandbox can write it."""
    folder = workspace.resolve()
    if folder not in _workspaces:
        _workspaces.add(folder)
        find.cache_clear()


def own_installation() -> Path:
    """Shipmate's own Python environment; the sandbox keeps it read-only wherever it lies."""
    return Path(sys.prefix).resolve()


def shipmate_inside(workspace: Path) -> bool:
    """Whether Shipmate's own Python environment lies inside ``workspace`` (a project's
    virtualenv): the sandbox then binds it read-only and the file tools do not write it."""
    own = own_installation()
    return own != workspace and own.is_relative_to(workspace)


def imports_from(workspace: Path) -> list[Path]:
    """Folders of the workspace that Shipmate's own Python imports from (the project installed
    in Shipmate's environment in editable mode puts its ``src`` there): a command can plant a
    ``sitecustomize.py`` in one, which every Python of Shipmate's would run."""
    workspace = workspace.resolve()
    found: list[Path] = []
    for entry in sys.path:
        if not entry or _hook_entry(entry):
            continue
        try:
            folder = Path(entry).resolve()
        except (OSError, RuntimeError):
            continue
        if folder.is_relative_to(workspace) and writable_by_commands(folder):
            found.append(folder)
    return list(dict.fromkeys(found))


def _hook_entry(entry: str) -> bool:
    """A ``sys.path`` entry served by an import hook, not a folder (an editable install's
    ``__editable__…__path_hook__``): its name says nothing about the workspace."""
    from importlib.machinery import FileFinder
    from zipimport import zipimporter

    finder = sys.path_importer_cache.get(entry)
    if finder is None:  # not imported from yet, or the cache was cleared: ask as import would
        for hook in sys.path_hooks:
            try:
                finder = hook(entry)
            except ImportError:
                continue
            break
    return finder is not None and not isinstance(finder, FileFinder | zipimporter)


def writable_by_commands(path: Path) -> bool:
    """Whether a sandboxed command could have written ``path``: it lies inside a workspace,
    and not in Shipmate's own installation there."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return True
    for workspace in _workspaces:
        if real.is_relative_to(workspace):
            return not (shipmate_inside(workspace) and real.is_relative_to(own_installation()))
    return False


def _trusted_folders() -> list[str]:
    """PATH without relative entries and without folders a sandboxed command could write."""
    folders = []
    for entry in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if entry and os.path.isabs(entry) and not writable_by_commands(Path(entry)):
            folders.append(entry)
    return folders


def trusted_path() -> str:
    """The PATH for processes Shipmate starts outside the sandbox."""
    return os.pathsep.join(_trusted_folders())


@functools.cache
def find(name: str) -> str | None:
    """The absolute path of ``name`` from a trusted PATH folder, or None."""
    folders = _trusted_folders()
    if name == "rg":
        # The ripgrep wheel puts rg beside Shipmate's own Python.
        folders.insert(0, str(Path(sys.executable).parent))
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            if writable_by_commands(candidate):  # a link from a trusted folder into a workspace
                continue
            return str(candidate)
    return None


def require(name: str) -> str:
    """Like ``find``, but a missing program is an error that says what to install."""
    found = find(name)
    if found is None:
        raise MissingProgram(
            f"'{name}' was not found on PATH (folders inside the workspace are not searched); "
            f"install {name}."
        )
    return found
