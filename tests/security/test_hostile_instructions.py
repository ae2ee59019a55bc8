"""A hostile repository's instruction files: an AGENTS.md or CLAUDE.md (at the root or in a
folder) that leads to a secret, outside the workspace or inside it, must not bring it to the
model, nor hang a session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from security_helpers import SECRET, Guard, Site

from agent.context.prompt import folder_instructions, project_file, system_prompt
from agent.events import ToolFinished

from helpers import make_agent
from scripted_llm import Reply, ScriptedLLM, tool

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----"
ENV_SECRET = "sk-live-9c1d4e-the-attacker-wants-this"


def plant(site: Site) -> None:
    """Instruction files linked to the home's key, the outside secret and a folder outside."""
    ws = site.ws
    (ws / "AGENTS.md").symlink_to(site.home / ".ssh" / "id_rsa")
    (ws / "CLAUDE.md").symlink_to(site.secret)
    for name, target in (("api", site.home / ".ssh" / "id_rsa"), ("web", site.secret)):
        (ws / "packages" / name).mkdir(parents=True)
        (ws / "packages" / name / "AGENTS.md").symlink_to(target)
        (ws / "packages" / name / "a.py").write_text("A = 1\n")
    (site.outside / "folder" / "AGENTS.md").write_text(SECRET)
    (ws / "packages" / "lib").symlink_to(site.outside / "folder")


async def test_attack_instruction_files_linked_outside(
    site: Site, llm: ScriptedLLM, watch: Callable[..., Guard]
) -> None:
    plant(site)
    guard = watch()
    llm.add(
        Reply(
            calls=[
                tool("read_file", path="packages/api/a.py"),
                tool("read_file", path="packages/web/a.py"),
                tool("read_file", path="packages/lib/inner.txt"),
            ]
        ),
        Reply(text="done"),
    )
    events = [event async for event in make_agent(llm, site.ws).send("read them")]
    sent = json.dumps(llm.requests)
    assert KEY not in sent and SECRET.strip() not in sent
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [(e.status, e.instructions) for e in finished] == [
        ("ok", []),
        ("ok", []),
        ("error", []),
    ]
    # Directly, too: through a linked folder nothing outside is read.
    lib_file = site.ws / "packages" / "lib" / "x.py"
    assert folder_instructions(site.ws, lib_file, set()) == ([], [])
    guard.check()


def test_attack_instruction_files_linked_to_a_workspace_secret(site: Site) -> None:
    ws = site.ws
    (ws / ".env").write_text(f"API_KEY={ENV_SECRET}\n")
    (ws / "keys").mkdir()
    (ws / "keys" / "deploy.pem").write_text(ENV_SECRET)
    (ws / "AGENTS.md").symlink_to(".env")
    (ws / "CLAUDE.md").symlink_to("keys/deploy.pem")
    (ws / "api").mkdir()
    (ws / "api" / "AGENTS.md").symlink_to("../.env")
    (ws / ".ssh").mkdir()
    (ws / ".ssh" / "AGENTS.md").write_text(ENV_SECRET)  # a folder of secrets: never read
    assert ENV_SECRET not in system_prompt(ws, "full-auto")
    assert folder_instructions(ws, ws / "api" / "x.py", set()) == ([], [])
    assert folder_instructions(ws, ws / ".ssh" / "config", set()) == ([], [])


def test_attack_instruction_file_hard_linked_to_a_file_outside(site: Site) -> None:
    os.link(site.secret, site.ws / "AGENTS.md")
    (site.ws / "api").mkdir()
    os.link(site.secret, site.ws / "api" / "AGENTS.md")
    assert SECRET.strip() not in system_prompt(site.ws, "ask")
    assert folder_instructions(site.ws, site.ws / "api" / "x.py", set()) == ([], [])


def test_attack_instruction_file_that_is_a_fifo(site: Site) -> None:
    os.mkfifo(site.ws / "AGENTS.md")  # reading it would block the session for ever
    (site.ws / "api").mkdir()
    os.mkfifo(site.ws / "api" / "AGENTS.md")
    assert project_file(site.ws, "AGENTS.md") == ""
    assert folder_instructions(site.ws, site.ws / "api" / "x.py", set()) == ([], [])


def test_control_a_link_inside_the_workspace_is_followed(site: Site) -> None:
    ws = site.ws
    (ws / "docs").mkdir()
    (ws / "docs" / "agents.md").write_text("Use tabs.\n")
    (ws / "AGENTS.md").symlink_to("docs/agents.md")
    (ws / "CLAUDE.md").symlink_to("AGENTS.md")
    assert system_prompt(ws, "ask").count("Use tabs.") == 1
    assert project_file(Path(ws), "CLAUDE.md") == "Use tabs."
