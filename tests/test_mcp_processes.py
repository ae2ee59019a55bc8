"""No MCP server outlives Shipmate: not after Ctrl-C, not after SIGKILL (the real
``shipmate run``, its servers configured in the user config, the model stalled mid-turn).
The server lingers after its stdin closes, so only Shipmate's own stopping ends it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import platformdirs
import pytest

from helpers import MCP_DEMO as DEMO
from helpers import REPO_ROOT, alive
from scripted_llm import Fault, ScriptedLLM


def start_shipmate(llm: ScriptedLLM, repo: Path, pids: Path) -> subprocess.Popen[str]:
    config = platformdirs.user_config_path("shipmate") / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "mcp_startup_timeout = 60\n"
        "[mcp.servers.demo]\n"
        f"command = {sys.executable!r}\n"
        f"args = [{str(DEMO)!r}, '--linger']\n"
        f"env = {{ DEMO_PID_FILE = {str(pids)!r} }}\n"
    )
    llm.add(Fault("stall", seconds=60))
    command = ["run", "go", "--model", "openai/scripted", "--api-base", llm.url]
    return subprocess.Popen(
        [sys.executable, "-m", "agent", *command, "--output-format", "stream-json"],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OPENAI_API_KEY": "k"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def server_pid(llm: ScriptedLLM, pids: Path, process: subprocess.Popen[str]) -> int:
    """The server's PID, once the model call (which waits for the servers) has begun."""
    deadline = time.monotonic() + 90
    while not llm.requests and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert llm.requests, process.communicate(timeout=10)
    [pid] = [int(line) for line in pids.read_text().split()]
    assert alive(pid)
    return pid


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_ctrl_c_stops_the_servers(llm: ScriptedLLM, repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    process = start_shipmate(llm, repo, pids)
    pid = server_pid(llm, pids, process)
    assert "mcp__demo__get_issue" in [t["function"]["name"] for t in llm.requests[0]["tools"]]
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert gone(pid, 10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_of_shipmate_takes_its_servers_with_it(
    llm: ScriptedLLM, repo: Path, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    process = start_shipmate(llm, repo, pids)
    pid = server_pid(llm, pids, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert gone(pid, 10)
