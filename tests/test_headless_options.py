"""``run``'s own flags: --quiet, --append-system-prompt, and the ts of stream-json events.

The run goes in-process through ``run_task`` (the function behind ``shipmate run``) against
the scripted model; the flags are read by the real argument parser.
"""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest

from agent.cli import UsageError, build_parser, run_options
from agent.config import Settings
from agent.frontends.headless import RunOptions, run_task

from helpers import run_cli
from scripted_llm import Fault, Reply, ScriptedLLM, tool


def options(*argv: str) -> RunOptions:
    parser = build_parser()
    args = parser.parse_args(["run", "task", *argv])
    return run_options(parser.command("run"), args)


async def run(llm: ScriptedLLM, repo: Path, flags: RunOptions) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url, approval="full-auto", max_retries=0)
    code = await run_task("explain", settings, repo, flags, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_quiet_prints_only_the_answer_and_errors(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="Looking.", calls=[tool("list_files")]), Reply(text="It slugifies."))
    code, out, err = await run(llm, repo, options("--quiet"))
    assert (code, out, err) == (0, "It slugifies.\n", "")
    llm.add(Fault("status", status=503))
    code, out, err = await run(llm, repo, options("-q"))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and len(err.splitlines()) == 1


async def test_appended_prompt_comes_last_in_the_system_prompt(
    llm: ScriptedLLM, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "AGENTS.md").write_text("Use tabs.")
    (tmp_path / "style.md").write_text("Answer in French.\n")
    monkeypatch.chdir(tmp_path)  # @PATH is read from where the command was typed
    llm.add(Reply(text="Oui."), Reply(text="Oui."))
    await run(llm, repo, options("--append-system-prompt", "@style.md"))
    await run(llm, repo, options("--append-system-prompt", "Answer in French."))
    for request in llm.requests:
        system = request["messages"][0]["content"]
        assert system.index("Use tabs.") < system.index("Answer in French.")
        assert system.rstrip().endswith("\n\nAnswer in French.")


def test_flags_that_cannot_work_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"/nope\.md: No such file or directory"):
        options("--append-system-prompt", f"@{tmp_path}/nope.md")
    with pytest.raises(UsageError, match="--deny needs a pattern"):
        options("--deny", " ")
    assert options("--allow", "pytest *", "--allow", "ruff *").allow == ["pytest *", "ruff *"]


async def test_stream_json_lines_start_with_type_then_a_utc_ts(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(calls=[tool("list_files")]), Reply(text="done"))
    code, out, _ = await run(llm, repo, options("--output-format", "stream-json"))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) > 5
    stamps = []
    for line in lines:
        event = json.loads(line)
        assert list(event)[:2] == ["type", "ts"], line
        assert event["ts"].endswith("Z")
        stamps.append(datetime.datetime.fromisoformat(event["ts"]))
    assert stamps == sorted(stamps)
    now = datetime.datetime.now(datetime.UTC)
    assert now - datetime.timedelta(minutes=5) < stamps[0] <= now


def test_c_before_the_command_and_one_run_rules_checked_like_saved_ones(repo: Path) -> None:
    done = run_cli("-C", str(repo), "index", cwd=repo.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Indexed ")
    bad = run_cli("run", "--deny", 'a "b', "--output-format", "json", "go", cwd=repo)
    assert bad.returncode == 2
    assert "quote that is not closed" in bad.stderr and "usage: shipmate run" in bad.stderr
    assert json.loads(bad.stdout)["status"] == "config_error"
    no_scheme = run_cli("run", "--model", "m", "--api-base", "localhost:11434", "go", cwd=repo)
    assert no_scheme.returncode == 2
    assert "--api-base should start with http:// or https://" in no_scheme.stderr
