"""What the model sees first: the system prompt, filled in for this workspace and mode; and
the instructions of the folders the model works in, given once each as it reaches them.

Instructions come, in this order: the user's own (``~/.config/shipmate/AGENTS.md``), the
project's (``AGENTS.md``/``CLAUDE.md`` at the workspace root), the user's
``--append-system-prompt``, all in the system prompt; then, later in the session, the nearest
``AGENTS.md``/``CLAUDE.md`` below the root of each file the model reads or edits. The
repository may be hostile, so its files are read through the workspace's confinement (no link
leading out, no secret file, no hard link, a size cap).
"""

from __future__ import annotations

import datetime
import os
import platform
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import prompts
from agent.config import ApprovalMode, user_instructions_file
from agent.vcs import git
from tools.base import ToolError
from tools.names import safe_text
from tools.paths import canonical, open_inside
from tools.secret_files import is_secret_path

PROJECT_FILES = ("AGENTS.md", "CLAUDE.md")
MAX_PROJECT_FILE_CHARS = 40_000
CUT = "\n… (cut: the file is longer)"


@dataclass(frozen=True)
class FolderInstructions:
    """One instruction file of a folder below the root, as the model is given it."""

    file: str  # relative to the workspace, e.g. packages/api/AGENTS.md
    folder: str  # the folder it applies to, e.g. packages/api
    text: str

    def block(self) -> str:
        """The delimited block added after a tool's result."""
        return fill(
            prompts.load("folder_instructions.md").strip(),
            file=self.file,
            folder=self.folder,
            text=self.text,
        )


def fill(template: str, **values: str) -> str:
    """Replace ``{{name}}`` placeholders; braces elsewhere in a prompt are left alone."""
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    return template


def system_prompt(
    workspace: Path, mode: ApprovalMode, appended: str = "", interactive: bool = False
) -> str:
    """The system prompt; ``appended`` (the user's --append-system-prompt) comes last, after
    the project's instructions, so it has the final word. ``interactive``: a person is there
    to approve (the TUI), else what asks is refused."""
    text = fill(
        prompts.load("system.md"),
        workspace=str(workspace),
        git=_git_line(workspace),
        platform=f"{platform.system()} {platform.release()}",
        date=datetime.date.today().isoformat(),
        mode=_mode_text(mode, interactive),
    )
    user_file = user_instructions_file()
    if mine := user_instructions(user_file):
        text += "\n\n" + fill(prompts.load("user.md"), file=str(user_file), text=mine)
    seen: set[str] = set()
    for name in PROJECT_FILES:
        instructions = project_file(workspace, name)
        if instructions and instructions not in seen:
            seen.add(instructions)
            text += "\n\n" + fill(prompts.load("project.md"), file=name, text=instructions)
    if appended.strip():
        text += "\n\n" + fill(prompts.load("appended.md"), text=appended.strip())
    return text


def _mode_text(mode: ApprovalMode, interactive: bool) -> str:
    """What the mode lets the model do; where a person approves, asking is no refusal."""
    if interactive and mode in ("ask", "auto-edit"):
        return prompts.load(f"modes/interactive/{mode}.md").strip()
    return prompts.load(f"modes/{mode}.md").strip()


def user_instructions(path: Path) -> str:
    """The user's own standing instructions; the user wrote them, so a link is followed."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PROJECT_FILE_CHARS * 4 + 1)
    except OSError:
        return ""
    return _cut(data.decode("utf-8", errors="replace"))


def project_file(workspace: Path, relative: str) -> str:
    """An instruction file of the repository, or "" when it is missing or not safe to read:
    a link may lead only to another file inside the workspace, never to a secret file (a
    ``.env``, a key) the model must ask to read, and a file with other hard links is not read
    (another link may be outside, as the file tools refuse it too)."""
    workspace = workspace.resolve()
    try:
        real = canonical(workspace, relative)
    except ToolError:
        return ""
    inside = real.relative_to(workspace).as_posix()
    if is_secret_path(inside):
        return ""
    try:
        fd = open_inside(workspace, inside)  # the real path: no link on the way, none swapped in
    except OSError:
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            return ""
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_PROJECT_FILE_CHARS * 4 + 1)
    except OSError:
        return ""
    finally:
        os.close(fd)
    return _cut(data.decode("utf-8", errors="replace"))


def folder_instructions(
    workspace: Path, path: Path, added: set[str]
) -> tuple[list[FolderInstructions], list[str]]:
    """What to give the model now that it read or edited ``path`` (a real path inside the
    workspace): the instructions of the nearest folder between the file's folder and the root
    (the root's own are in the system prompt), unless already ``added``.

    Returns the blocks to add and the files to record as added; a file the model just read
    itself is recorded but not repeated.
    """
    workspace = workspace.resolve()
    folder = path.parent
    while folder != workspace and folder.is_relative_to(workspace):
        shown = safe_text(folder.relative_to(workspace).as_posix())  # as the model sees names
        found: list[tuple[str, str]] = []
        for name in PROJECT_FILES:
            file = (PurePosixPath(shown) / name).as_posix()
            if text := project_file(workspace, file):
                found.append((file, text))
        if found:
            blocks: list[FolderInstructions] = []
            recorded: list[str] = []
            seen: set[str] = set()
            for file, text in found:
                repeated = text in seen
                seen.add(text)
                if file in added:
                    continue
                recorded.append(file)
                if not repeated and folder / PurePosixPath(file).name != path:
                    blocks.append(FolderInstructions(file, shown, text))
            return blocks, recorded
        folder = folder.parent
    return [], []


def _cut(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_PROJECT_FILE_CHARS:
        text = text[:MAX_PROJECT_FILE_CHARS] + CUT
    return text


def _git_line(workspace: Path) -> str:
    repository = git.repository(workspace)
    if repository is None:
        return "Git: this is not a git repository, so changes cannot be undone with git"
    try:
        branch = repository.branch()
    except git.GitError:
        return "Git: not available"
    return f"Git: a repository, on branch {branch or 'unknown'}"
