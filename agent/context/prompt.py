"""What the model sees first: the system prompt, filled in for this workspace and mode."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

import prompts
from agent.config import ApprovalMode
from agent.vcs import git

PROJECT_FILES = ("AGENTS.md", "CLAUDE.md")
MAX_PROJECT_FILE_CHARS = 40_000


def fill(template: str, **values: str) -> str:
    """Replace ``{{name}}`` placeholders; braces elsewhere in a prompt are left alone."""
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    return template


def system_prompt(workspace: Path, mode: ApprovalMode, appended: str = "") -> str:
    """The system prompt; ``appended`` (the user's --append-system-prompt) comes last, after
    the project's instructions, so it has the final word."""
    text = fill(
        prompts.load("system.md"),
        workspace=str(workspace),
        git=_git_line(workspace),
        platform=f"{platform.system()} {platform.release()}",
        date=datetime.date.today().isoformat(),
        mode=prompts.load(f"modes/{mode}.md").strip(),
    )
    seen: set[str] = set()
    for name in PROJECT_FILES:
        instructions = _project_file(workspace / name)
        if instructions and instructions not in seen:
            seen.add(instructions)
            text += "\n\n" + fill(prompts.load("project.md"), file=name, text=instructions)
    if appended.strip():
        text += "\n\n" + fill(prompts.load("appended.md"), text=appended.strip())
    return text


def _project_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    if len(text) > MAX_PROJECT_FILE_CHARS:
        text = text[:MAX_PROJECT_FILE_CHARS] + "\n… (cut: the file is longer)"
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
