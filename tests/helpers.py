"""Helpers for tests: real git, the real ``shipmate`` command, and an agent wired for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.conversation import Conversation
from agent.llm import LLM
from agent.policy.approval import HeadlessApprover
from agent.policy.rules import RuleBook
from agent.policy.sandboxing import sandbox_for
from agent.session import SessionStore
from tools.base import Tool
from tools.registry import REGISTRY

from scripted_llm import Fault, Reply, ScriptedLLM, tool

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


def committed(root: Path, files: dict[str, str], message: str = "project") -> Path:
    """``files`` written under ``root``, a new repository, everything committed."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return root


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


def make_agent(
    server: ScriptedLLM,
    workspace: Path,
    approval: str = "full-auto",
    approver: Any = None,
    model: str = "openai/scripted",
    tools: dict[str, type[Tool]] = REGISTRY,
    **settings: Any,
) -> Conversation:
    config = Settings(model=model, api_base=server.url, approval=approval, **settings)
    llm = LLM(model, api_base=server.url, api_key="k", retry_base_delay=0.01, max_retries=1)
    return Conversation(
        llm=llm,
        settings=config,
        workspace=workspace,
        approver=approver or HeadlessApprover(config.approval),
        store=SessionStore(workspace.parent / "sessions.db"),
        sandbox=sandbox_for(config, workspace),
        rules=RuleBook(workspace),
        tools=tools,
    )


def reopened(conversation: Conversation, **session: Any) -> Conversation:
    """A new Conversation with ``conversation``'s parts and store, as a resumed session is
    built (``session``: session_id, history, compacted …)."""
    return Conversation(
        llm=conversation.llm,
        settings=conversation.settings,
        workspace=conversation.ctx.workspace,
        approver=conversation.approver,
        store=conversation.store,
        sandbox=conversation.sandbox,
        rules=conversation.permissions.rules,
        **session,
    )


def module_text(number: int, functions: int = 30) -> str:
    """A module of ``functions`` small documented functions: sizable, realistic source."""
    return "".join(
        f"def function_{number}_{j}(value):\n"
        f'    """Scale value by {j} for module {number}."""\n'
        f"    return value * {j} + {number}\n\n\n"
        for j in range(functions)
    )


FIX_OLD = "    text = text.lower()\n"
FIX_NEW = (
    '    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()\n'
    "    text = text.lower()\n"
)
ANSWER = "Fixed slugify(): accents are stripped first. Both tests pass."
PYTEST = "python -m pytest -q -p no:cacheprovider"


def fixing_script() -> list[Reply | Fault]:
    return [
        Reply(
            text="Let me find it.",
            calls=[tool("grep", pattern="def slugify"), tool("read_file", path="textutil.py")],
        ),
        Reply(
            calls=[
                tool(
                    "edit_file",
                    path="textutil.py",
                    old_text="import re\n",
                    new_text="import re\nimport unicodedata\n",
                ),
                tool("edit_file", path="textutil.py", old_text=FIX_OLD, new_text=FIX_NEW),
            ]
        ),
        Reply(calls=[tool("run_command", command=PYTEST)]),
        Reply(text=ANSWER),
    ]


def identity(repo: Path) -> None:
    git(repo, "config", "user.name", "Ada User")
    git(repo, "config", "user.email", "ada@example.com")


async def drain(conversation: Conversation, text: str) -> list[Any]:
    """One turn's events."""
    return [event async for event in conversation.send(text)]


def edit(path: str, old: str, new: str) -> Reply:
    return Reply(calls=[tool("edit_file", path=path, old_text=old, new_text=new)])


# An MCP server written with the SDK (tests/mcp/demo_server.py), run as its own process.
MCP_DEMO = Path(__file__).parent / "mcp" / "demo_server.py"


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state not in ("Z", "X")
