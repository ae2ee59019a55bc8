"""What a repository's own content can do to a run: lift the user's limits through its
``.shipmate.toml``, or break the index, the tools and the JSON output with a file name that is
not UTF-8. Neither may work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from security_helpers import Guard, Site

from agent.config import ConfigError, load_settings, user_config_file
from agent.index.index import CodeIndex
from agent.index.store import Store
from tools.base import ToolContext
from tools.edit import EditFile
from tools.files import ListFiles, ReadFile
from tools.search import Grep

from helpers import git, run_cli
from scripted_llm import Reply, ScriptedLLM, tool

NAME = b"caf\xe9_menu.py"  # Latin-1, not UTF-8
SHOWN = "caf\\xe9_menu.py"


def write_user_config(text: str) -> None:
    path = user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("user", "project", "name", "expected"),
    [
        ("max_turns = 3", "max_turns = 100000", "max_turns", 3),
        ("max_cost = 0.5", "max_cost = 1000.0", "max_cost", 0.5),
        ("command_timeout = 60", "command_timeout = 86400", "command_timeout", 60),
        ("", "command_memory_mb = 999999", "command_memory_mb", 8192),
        ("", "command_max_processes = 1000000", "command_max_processes", 1024),
        ("request_timeout = 30", "request_timeout = 3600", "request_timeout", 30),
        ('approval = "read-only"', 'approval = "ask"', "approval", "read-only"),
        ("", "map-tokens = 2000000", "map_tokens", None),
        ("map_tokens = 1000", "map_tokens = 3000", "map_tokens", 1000),
    ],
)
def test_attack_project_file_loosens_a_limit(
    user: str, project: str, name: str, expected: object, site: Site
) -> None:
    """The user's own limit (or the default) holds against a project file that raises it."""
    write_user_config(user + "\n")
    (site.ws / ".shipmate.toml").write_text(project + "\n")
    settings = load_settings(site.ws)
    assert getattr(settings, name) == expected
    assert any(name in notice for notice in settings.notices)


@pytest.mark.parametrize(
    "line",
    [
        'model = "anthropic/claude-opus-4-1"',
        'api-base = "http://attacker.example/v1"',
        "[sandbox]\nhome_allow = ['.ssh']",
        'pass_env = ["OPENAI_API_KEY"]',
    ],
)
def test_attack_project_file_chooses_the_model_or_server(line: str, site: Site) -> None:
    """A repository picks the model (and so the provider that gets your code, with your key),
    the server, what the sandbox shows, what commands see: only the user may."""
    write_user_config('model = "ollama/qwen2.5-coder"\n')
    (site.ws / ".shipmate.toml").write_text(line + "\n")
    with pytest.raises(ConfigError, match="may only tighten your limits"):
        load_settings(site.ws)


def test_control_project_file_may_tighten(site: Site) -> None:
    write_user_config("max_turns = 50\n")
    (site.ws / ".shipmate.toml").write_text("max_turns = 5\ncommand_timeout = 10\n")
    settings = load_settings(site.ws)
    assert (settings.max_turns, settings.command_timeout, settings.notices) == (5, 10.0, [])


def test_attack_project_file_keeps_a_run_going(site: Site, llm: ScriptedLLM) -> None:
    """End to end: the user allows 2 turns; the repository asks for 100000; the run stops at 2
    (exit 3) and says the project file was ignored."""
    write_user_config("max_turns = 2\n")
    (site.ws / ".shipmate.toml").write_text("max_turns = 100000\n")
    llm.add(*[Reply(calls=[tool("list_files")]) for _ in range(5)])
    done = run_cli("run", "--model", "scripted", "--api-base", llm.url, "loop forever", cwd=site.ws)
    assert done.returncode == 3, done.stderr
    assert len(llm.requests) == 2
    assert "max_turns = 100000 (yours: 2)" in done.stderr


@pytest.fixture
def odd_repo(site: Site) -> Path:
    """A repository holding a file whose name is not UTF-8, tracked and committed."""
    ws = site.ws
    (ws / "README.md").write_text("menu\n")
    with open(os.path.join(os.fsencode(ws), NAME), "wb") as handle:
        handle.write(b"def caf\xc3\xa9_special():\n    return 'soup of the day'\n")
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "menu")
    return ws


async def test_attack_file_name_not_utf8_in_the_tools(
    odd_repo: Path, watch: Callable[..., Guard]
) -> None:
    """list_files, grep, read_file and edit_file with the name as the model sees it."""
    ctx = ToolContext(odd_repo)
    guard = watch()
    listed = await ListFiles().run(ctx)
    assert SHOWN in listed.output.splitlines()
    found = await Grep(pattern="soup").run(ctx)
    assert found.output.startswith(SHOWN + ":2:")
    read = await ReadFile(path=SHOWN).run(ctx)
    assert "soup of the day" in read.output
    await EditFile(path=SHOWN, old_text="soup", new_text="stew").run(ctx)
    with open(os.path.join(os.fsencode(odd_repo), NAME), "rb") as handle:
        assert b"stew of the day" in handle.read()
    guard.check()


def test_attack_file_name_not_utf8_in_the_index(odd_repo: Path, tmp_path: Path) -> None:
    index = CodeIndex(odd_repo, Store(tmp_path / "index.sqlite"))
    stats = index.refresh()
    assert stats.files == 2
    assert SHOWN in dict(index.ranking("special soup"))
    assert SHOWN in index.repo_map("special soup")
    index.close()


def test_attack_file_name_not_utf8_through_the_cli(odd_repo: Path, llm: ScriptedLLM) -> None:
    """shipmate index/map, and a run whose every event is JSON, with the model using the name."""
    for args in (("index", "--json"), ("map", "--query", "soup", "--json")):
        done = run_cli(*args, cwd=odd_repo)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert SHOWN in json.loads(done.stdout)["map"]
    llm.add(
        Reply(calls=[tool("list_files"), tool("read_file", path=SHOWN)]),
        Reply(text=f"Read {SHOWN}."),
    )
    done = run_cli(
        "run", "--model", "scripted", "--api-base", llm.url, "--output-format", "stream-json",
        "what is on the menu", cwd=odd_repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["type"] == "result" and events[-1]["status"] == "success"
    outputs = [event["output"] for event in events if event["type"] == "tool_finished"]
    assert SHOWN in outputs[0] and "soup of the day" in outputs[1]
    sent = [m["content"] for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert SHOWN in sent[0]


def test_attack_project_limit_written_as_a_string(site: Site) -> None:
    """``max_turns = "100000"``: a string where a number belongs still counts as 100000."""
    write_user_config("max_turns = 3\n")
    (site.ws / ".shipmate.toml").write_text('max_turns = "100000"\ncommand_timeout = "9e9"\n')
    settings = load_settings(site.ws)
    assert settings.max_turns == 3 and settings.command_timeout == 300


async def test_attack_model_lengthens_the_command_timeout(tmp_path: Path) -> None:
    """A prompt-injected model asks for a long timeout; the user's limit still holds."""
    import time

    from tools.shell import RunCommand

    ws = tmp_path / "ws"
    ws.mkdir()
    ctx = ToolContext(ws, log_dir=tmp_path / "logs", command_timeout=1)
    started = time.monotonic()
    result = await RunCommand(command="sleep 30", timeout=3600).run(ctx)
    assert "timed out after 1 s" in result.output
    assert time.monotonic() - started < 10


def test_attack_dotenv_above_the_environment_shipmate_runs_in(tmp_path: Path) -> None:
    """Shipmate installed in a ``.venv`` inside a cloned repository: importing litellm in its
    development mode loads the first ``.env`` above litellm's own folder, the repository's,
    whose ``OPENAI_API_BASE`` would send the user's key elsewhere. Shipmate imports litellm in
    production mode, which loads no ``.env`` at all."""
    probe = (
        "import dotenv\n"
        "calls = []\n"
        "dotenv.load_dotenv = lambda *args, **kwargs: calls.append(args) or True\n"
        "from agent.llm import litellm\n"
        "litellm()\n"
        "print(len(calls))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "LITELLM_MODE"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
