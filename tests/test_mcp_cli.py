"""``shipmate mcp …`` and doctor's MCP section, as a user runs them: real processes, the
demo MCP server (tests/mcp/demo_server.py) started for real, an isolated home."""

from __future__ import annotations

import json
import os
import pty
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agent.config import ConfigError, user_config_file
from agent.mcp.config import McpServer
from agent.mcp.trust import TrustBook
from agent.mcp.user_file import add_server, remove_server, with_server, without_server

from helpers import REPO_ROOT, run_cli

DEMO = REPO_ROOT / "tests" / "mcp" / "demo_server.py"
ORIGINAL = """# my settings, by hand
model = "openai/gpt-5"  # the good one

[sandbox]
# keep it tight
home_allow = ["~/.cargo"]
"""


def config(text: str) -> Path:
    path = user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def demo_table(name: str, *flags: str, env: dict[str, str] | None = None) -> str:
    args = json.dumps([str(DEMO), *flags])
    table = f'[mcp.servers.{name}]\ncommand = "{sys.executable}"\nargs = {args}\n'
    if env:
        table += f"[mcp.servers.{name}.env]\n"
        table += "".join(f'{key} = "{value}"\n' for key, value in env.items())
    return table + "\n"


def in_a_terminal(args: list[str], cwd: Path, answer: str) -> tuple[str, int]:
    """``shipmate ARGS`` on a pseudo-terminal, ``answer`` typed at its question."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes shipmate, never goes back to pytest
        try:
            os.chdir(cwd)
            os.environ["PYTHONPATH"] = str(REPO_ROOT)
            os.execv(sys.executable, [sys.executable, "-m", "agent", *args])
        finally:
            os._exit(127)
    said = b""
    answered = False
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the terminal closed: shipmate is done
            break
        if not data:
            break
        said += data
        if not answered and b"[y/N]" in said:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return said.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)


def clean(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr
    assert "internal error" not in done.stderr


def test_add_list_remove_round_trip_keeps_the_users_file(ws: Path) -> None:
    path = config(ORIGINAL)
    done = run_cli("mcp", "add", "demo", "--env", "A=b", "--", "python3", "server.py", "-p", cwd=ws)
    clean(done)
    assert done.returncode == 0, done.stderr
    with_demo = path.read_text()
    done = run_cli(
        "mcp", "add", "web", "--url", "https://mcp.example.com/mcp", "--header",
        "Authorization: Bearer ${TOKEN}", "--transport", "sse", "--tool", "search",
        "--approval", "ask", "--timeout", "5", "--disabled", cwd=ws,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    assert text.startswith(ORIGINAL) and text.startswith(with_demo)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    servers = tomllib.loads(text)["mcp"]["servers"]
    assert servers["demo"] == {"command": "python3", "args": ["server.py", "-p"], "env": {"A": "b"}}
    assert servers["web"] == {
        "url": "https://mcp.example.com/mcp",
        "transport": "sse",
        "enabled": False,
        "timeout": 5,
        "tools": ["search"],
        "approval": "ask",
        "headers": {"Authorization": "Bearer ${TOKEN}"},
    }

    done = run_cli("mcp", "list", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "demo  (yours" in done.stdout and "command: python3 server.py -p" in done.stdout
    assert "web  (yours" in done.stdout and "disabled" in done.stdout
    assert "url: https://mcp.example.com/mcp (sse)" in done.stdout

    done = run_cli("mcp", "add", "web", "--url", "https://other.example.com", cwd=ws)
    clean(done)
    assert done.returncode == 2
    assert "already an MCP server 'web'" in done.stderr and "--replace" in done.stderr
    assert path.read_text() == text

    done = run_cli("mcp", "remove", "web", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert path.read_text() == with_demo
    done = run_cli("mcp", "remove", "demo", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert path.read_text() == ORIGINAL
    done = run_cli("mcp", "remove", "demo", cwd=ws)
    clean(done)
    assert done.returncode == 2 and "has no MCP server 'demo'" in done.stderr


def test_bad_names_and_flags_are_one_sentence(ws: Path) -> None:
    path = config(ORIGINAL)
    done = run_cli("mcp", "add", "my__server", "--", "ls", cwd=ws)
    clean(done)
    assert done.returncode == 2
    assert "should be letters, digits, - and _ (no __)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = run_cli("mcp", "add", "web", "--url", "ftp://example.com", cwd=ws)
    clean(done)
    assert done.returncode == 2 and "url should start with http:// or https://" in done.stderr
    assert path.read_text() == ORIGINAL


def test_the_user_file_is_edited_as_text() -> None:
    """Tables are found by the TOML parser: quoted names, sub-tables, a header look-alike
    inside a multi-line string; a comment heading the next table stays with it."""
    text = (
        ORIGINAL + "\n[mcp.servers.keep]\ncommand = 'uvx'\n\n"
        '[ mcp.servers."gone" ]  # going\ncommand = "x"\nnote = """\n[mcp.servers.fake]\n"""\n'
        "\n[mcp.servers.gone.env]\nA = '1'\n# about the table below\n[tail]\nx = 1\n"
    )
    assert without_server(text, "gone") == (
        ORIGINAL + "\n[mcp.servers.keep]\ncommand = 'uvx'\n\n# about the table below\n"
        "[tail]\nx = 1\n"
    )
    assert without_server(text, "fake") == text
    server = McpServer(command="npx", args=["-y", 'a "b"'], env={"odd key": "v\n"})
    added = tomllib.loads(with_server(ORIGINAL, "x", server))
    assert McpServer.model_validate(added["mcp"]["servers"]["x"]) == server


def test_replace_swaps_the_table_and_its_sub_tables() -> None:
    path = config(ORIGINAL)
    add_server("demo", McpServer(command="old", env={"OLD": "1"}))
    add_server("demo", McpServer(url="https://new.example"), replace=True)
    assert path.read_text() == ORIGINAL + '\n[mcp.servers.demo]\nurl = "https://new.example"\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_entry_it_cannot_edit_safely_is_refused() -> None:
    inline = ORIGINAL + '\n[mcp.servers]\ndemo = { command = "x" }\n'
    path = config(inline)
    with pytest.raises(ConfigError, match="cannot edit safely"):
        remove_server("demo")
    closed = ORIGINAL + '\n[mcp]\nservers = { demo = { command = "x" } }\n'
    config(closed)
    with pytest.raises(ConfigError, match="cannot edit safely"):
        add_server("other", McpServer(command="y"))
    assert path.read_text() == closed
    config("model = [\n")
    with pytest.raises(ConfigError, match="fix it first"):
        add_server("other", McpServer(command="y"))


def test_test_lists_tools_prompts_and_resources(ws: Path) -> None:
    config(
        "mcp_startup_timeout = 60\n\n"
        + demo_table("demo")
        + "[mcp.servers.other]\ncommand = 'true'\n"
    )
    done = run_cli("mcp", "test", "demo", cwd=ws)
    clean(done)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    tools_part = out.split("Tools: ", 1)[1].split("Prompts: ", 1)[0].splitlines()
    lines = {line.split()[0]: line for line in tools_part[1:]}
    assert lines["get_issue"].split()[1] == "read" and "chars" in lines["get_issue"]
    assert lines["create_note"].split()[1] == "execute"
    assert lines["delete_repo"].split()[1] == "destructive"
    assert "left out: its schema refers to '#/$defs/Missing'" in lines["broken"]
    offered = [line for line in lines.values() if "left out" not in line]
    assert len(offered) == len(lines) - 1 >= 6
    assert tools_part[0].startswith(f"{len(offered)} offered to the model as mcp__demo__TOOL, ~")
    assert "review(topic)" in out and "Ask for a careful review." in out
    assert "notes://today" in out
    assert out.rstrip().endswith("Stopped it.")


def test_test_reports_a_server_that_fails_or_hangs(ws: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    env = {"DEMO_PID_FILE": str(pids)}
    config(
        "mcp_startup_timeout = 60\n\n"
        + demo_table("fails", "--fail", env=env)
        + demo_table("hangs", "--hang", env=env)
    )
    done = run_cli("mcp", "test", "fails", cwd=ws)
    clean(done)
    assert done.returncode == 1
    assert "server said: demo: cannot start, the database is missing" in done.stderr
    assert "MCP server 'fails' could not start:" in done.stderr
    done = run_cli("mcp", "test", "hangs", cwd=ws, env={"SHIPMATE_MCP_STARTUP_TIMEOUT": "1"})
    clean(done)
    assert done.returncode == 1
    assert "MCP server 'hangs' did not start within 1 s" in done.stderr
    assert "mcp_startup_timeout" in done.stderr
    started = [int(pid) for pid in pids.read_text().split()]
    assert started  # the hanging one may be stopped before it wrote its pid
    for pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    done = run_cli("mcp", "test", "nowhere", cwd=ws)
    assert done.returncode == 2 and "no MCP server 'nowhere'" in done.stderr


def test_trust_a_repositorys_servers(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    tracker = {"command": sys.executable, "args": [str(DEMO)], "env": {"TOKEN": "${TRACKER}"}}
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"tracker": tracker}}))
    (repo / ".shipmate.toml").write_text('[mcp.servers.docs]\nurl = "https://docs.example"\n')
    book = TrustBook(repo)

    done = run_cli("mcp", "list", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "tracker  (this repository's" in done.stdout
    assert "waiting for trust: shipmate mcp trust tracker" in done.stdout
    assert "waiting for trust: shipmate mcp trust docs" in done.stdout

    done = run_cli("mcp", "test", "tracker", cwd=repo)
    assert done.returncode == 2 and "not trusted yet" in done.stderr

    done = run_cli("mcp", "trust", "tracker", cwd=repo)  # stdin is not a terminal
    clean(done)
    assert done.returncode == 2
    assert f"{sys.executable} {DEMO}" in done.stdout and "outside the sandbox" in done.stdout
    assert "TOKEN=${TRACKER}" in done.stdout
    assert "--yes" in done.stderr
    assert not TrustBook(repo).servers

    said, code = in_a_terminal(["mcp", "trust", "tracker"], repo, answer="y")
    assert code == 0, said
    assert "Trust it for this repository? [y/N]" in said and "Trusted" in said
    done = run_cli("mcp", "trust", "docs", "-y", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "https://docs.example (http)" in done.stdout
    book = TrustBook(repo)
    assert set(book.servers) == {"tracker", "docs"}

    done = run_cli("mcp", "untrust", "tracker", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "no longer trusted" in done.stdout
    assert set(TrustBook(repo).servers) == {"docs"}


def test_doctor_starts_the_servers_together(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"theirs": {"command": "x"}}}))
    config(
        "mcp_startup_timeout = 60\n\n"
        + demo_table("demo")
        + demo_table("fails", "--fail")
        + "[mcp.servers.resting]\ncommand = 'true'\nenabled = false\n"
    )
    done = run_cli("doctor", cwd=repo)
    clean(done)
    rows = done.stdout.split("mcp servers", 1)[1].splitlines()
    assert rows[0].strip() == "4, started together for at most 60 s"
    shown = [row.strip() for row in rows[1:]]
    assert re.fullmatch(
        r"demo \(yours, stdio\): ready with \d+ tools \(~\d+ tokens per request\)", shown[0]
    )
    assert shown[1].startswith("fails (yours, stdio): failed: ") and "its log: " in shown[1]
    assert shown[2] == "resting (yours, stdio): disabled"
    assert shown[3] == "theirs (.mcp.json, stdio): waiting for trust: shipmate mcp trust theirs"


def test_the_mcp_commands_load_neither_litellm_nor_the_sdk(ws: Path) -> None:
    config(ORIGINAL)
    probe = (
        "import json, sys\nfrom agent.cli import main\n"
        f"assert main(['mcp', 'list', '-C', {str(ws)!r}]) == 0\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "agent.mcp.commands" in modules
    assert not {m for m in modules if m.split(".")[0] in ("litellm", "mcp", "mcp_types")}
