"""run_tests reads the report a test runner wrote in a folder the sandbox could write (pytest's
JUnit XML, jest's JSON): a hostile conftest.py or runner may put anything there, and Shipmate
reads it as the user."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from tools.base import ToolContext
from tools.sandbox import Sandbox, SandboxSettings, find_bubblewrap
from tools.tests import RunTests

MARKER = "7f3a9c-secret-report"
# A file outside the workspace, shaped as a report, so a followed link would show its text.
SECRET = f"""<?xml version="1.0"?>
<testsuite tests="1" failures="1"><testcase classname="t" name="t" file="t.py">
<failure message="{MARKER}">{MARKER}</failure></testcase></testsuite>
"""

SWAP_FOR_A_LINK = """
import os


def pytest_unconfigure(config):
    report = config.option.xmlpath
    if report and os.path.exists(report):
        os.remove(report)
        os.symlink({secret!r}, report)
"""

SWAP_FOR_A_FIFO = """
import os


def pytest_unconfigure(config):
    report = config.option.xmlpath
    if report and os.path.exists(report):
        os.remove(report)
        os.mkfifo(report)
"""


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def project(ws: Path, conftest: str) -> Path:
    (ws / "tests").mkdir()
    (ws / "tests" / "test_app.py").write_text("def test_ok():\n    assert 1 == 2\n")
    (ws / "conftest.py").write_text(conftest)
    return ws


async def run_in_sandbox(ws: Path, tmp_path: Path, test_command: str | None = None) -> str:
    bubblewrap, why = find_bubblewrap()
    if bubblewrap is None:
        pytest.skip(why)
    ctx = ToolContext(
        workspace=ws,
        log_dir=tmp_path / "logs",
        sandbox=Sandbox(SandboxSettings(ws), bubblewrap),
        test_command=test_command,
    )
    tool = RunTests()
    tool.bind(ctx)
    return (await tool.run(ctx)).output


async def test_attack_report_swapped_for_a_link_to_a_secret(ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    project(ws, SWAP_FOR_A_LINK.format(secret=str(secret)))
    output = await run_in_sandbox(ws, tmp_path)
    assert MARKER not in output
    assert "exit code" in output or "failed" in output  # still a summary, from the output


async def test_attack_report_swapped_for_a_fifo(ws: Path, tmp_path: Path) -> None:
    """Reading a FIFO would wait forever for a writer."""
    project(ws, SWAP_FOR_A_FIFO)
    output = await run_in_sandbox(ws, tmp_path)
    assert output  # it came back


async def test_attack_escapes_in_a_failure_message_never_reach_the_model(
    ws: Path, tmp_path: Path
) -> None:
    """The report's messages and frames are the project's text, like command output: an
    8-bit CSI (valid XML, so pytest keeps it) is removed before the model reads it."""
    (ws / "tests").mkdir()
    (ws / "tests" / "test_app.py").write_text(
        "def test_screen():\n    assert False, 'wipe \\x9b2J here'\n"
    )
    output = await run_in_sandbox(ws, tmp_path)
    assert "FAILED tests/test_app.py::test_screen" in output
    assert "\x9b" not in output and "wipe  here" in output


# A "jest" that answers --outputFile=PATH with a link from PATH to a file outside the sandbox.
LINKING_JEST = """#!/bin/sh
for arg in "$@"; do
  case "$arg" in --outputFile=*) ln -s {secret} "${{arg#--outputFile=}}" ;; esac
done
echo "jest: 1 failed"
exit 1
"""


async def test_attack_json_report_swapped_for_a_link_to_a_secret(ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "token.json"
    secret.parent.mkdir()
    failure = {"title": "t", "status": "failed", "failureMessages": [MARKER]}
    secret.write_text(json.dumps({"testResults": [{"name": "t", "assertionResults": [failure]}]}))
    jest = ws / "jest"
    jest.write_text(LINKING_JEST.format(secret=shlex.quote(str(secret))))
    jest.chmod(0o755)
    output = await run_in_sandbox(ws, tmp_path, test_command="./jest")
    assert MARKER not in output
    assert output.startswith("exit code 1 in ")  # read from the output instead
    assert "jest: 1 failed" in output
