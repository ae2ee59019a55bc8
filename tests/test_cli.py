"""``shipmate`` as a user runs it: a real process, the scripted model over HTTP, a real repo.

Where a test is about the run's logic rather than the process, the run goes in-process
through ``run_task`` (the function behind ``shipmate run``): each process costs seconds of
litellm's import."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.config import Settings
from agent.frontends.headless import RunOptions, run_task

from helpers import ANSWER, PYTEST, REPO_ROOT, fixing_script, run_cli
from scripted_llm import Call, Fault, Reply, ScriptedLLM, tool


def model_flags(llm: ScriptedLLM) -> list[str]:
    return ["--model", "scripted", "--api-base", llm.url]


def suite_passes(repo: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
    )
    return done.returncode == 0


def test_run_fixes_the_bug_text_output(llm: ScriptedLLM, repo: Path) -> None:
    assert not suite_passes(repo)
    llm.add(*fixing_script())
    done = run_cli(
        "run", "fix slugify for unicode", *model_flags(llm), "--approval", "full-auto", cwd=repo
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ANSWER
    assert "→ $ " + PYTEST in done.stderr
    assert "success · 4 turns" in done.stderr
    assert "Traceback" not in done.stderr
    assert suite_passes(repo)
    assert "2 passed" in llm.requests[3]["messages"][-1]["content"]


def test_json_output_is_one_result_object(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(*fixing_script())
    done = run_cli(
        "run",
        "fix it",
        *model_flags(llm),
        "--approval",
        "full-auto",
        "--output-format",
        "json",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["type"] == "result"
    assert result["status"] == "success"
    assert result["result"] == ANSWER
    assert result["turns"] == 4
    assert result["usage"] == {
        "input_tokens": 400,
        "output_tokens": 80,
        "cached_tokens": 0,
        "cost_usd": 0.0,
    }
    assert result["cost_usd"] == 0.0
    assert result["files_changed"] == ["textutil.py"]
    assert result["permission_denials"] == []
    assert len(result["session_id"]) == 32
    # The process ends the moment the result is out (no interpreter teardown), yet the
    # session was stored whole before that.
    from agent.config import data_dir
    from agent.session import SessionStore

    store = SessionStore(data_dir() / "sessions.db")
    stored = store.events(result["session_id"])
    assert stored[0]["type"] == "session_started"
    assert stored[-1]["type"] == "result"
    assert store.get(result["session_id"]).status == "success"
    store.close()


def test_stream_json_prints_every_event_as_it_happens(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(*fixing_script())
    done = run_cli(
        "run",
        "fix it",
        *model_flags(llm),
        "--approval",
        "full-auto",
        "--output-format",
        "stream-json",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert all(line.startswith('{"type":') for line in lines)
    types = [e["type"] for e in events]
    assert types[0] == "session_started"
    assert types[-1] == "result"
    for kind in (
        "text_delta",
        "assistant_message",
        "tool_started",
        "tool_finished",
        "usage",
        "turn_finished",
    ):
        assert kind in types
    edits = [e for e in events if e["type"] == "tool_finished" and e["name"] == "edit_file"]
    assert "+import unicodedata" in edits[0]["diff"]
    assert events[-1]["session_id"] == events[0]["session_id"]


def test_print_alias_and_task_on_stdin(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="It turns text into URL slugs."), Reply(text="Same answer."))
    done = run_cli(*model_flags(llm), "-p", "what does textutil do?", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "It turns text into URL slugs."
    assert llm.requests[0]["messages"][1]["content"].endswith("\n\nwhat does textutil do?")
    done = run_cli("run", *model_flags(llm), cwd=repo, stdin="explain textutil\n")
    assert done.returncode == 0, done.stderr
    assert llm.requests[1]["messages"][1]["content"].endswith("\n\nexplain textutil")


async def test_default_mode_refuses_edits_and_says_how_to_allow_them(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(*fixing_script()[:2], Reply(text="I could not edit; here is the patch."))
    done = run_cli("run", "fix it", *model_flags(llm), "--output-format", "json", cwd=repo)
    result = json.loads(done.stdout)
    assert done.returncode == 0
    assert [d["tool"] for d in result["permission_denials"]] == ["edit_file", "edit_file"]
    assert result["files_changed"] == []
    assert "unicodedata" not in (repo / "textutil.py").read_text()
    # The text output's hint: the same run in-process (another process costs seconds).
    llm.add(*fixing_script()[:2], Reply(text="done"))
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url)
    assert await run_task("fix it", settings, repo, RunOptions(), out, err) == 0
    assert "--approval auto-edit" in err.getvalue()


async def test_faults_along_the_way_are_survived(llm: ScriptedLLM, repo: Path) -> None:
    """429, a dropped stream, a 500, malformed arguments and an unknown tool, in one run
    (in-process: the subject is the loop, not the process)."""
    script = fixing_script()
    llm.add(
        Fault("status", status=429, retry_after=0.2),
        script[0],
        Fault("drop"),
        Reply(calls=[Call("edit_file", '{"path": "textutil.py", "old_text": ')]),
        Fault("status", status=500),
        Reply(calls=[tool("apply_fix", path="textutil.py")]),
        *script[1:],
    )
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url, approval="full-auto")
    options = RunOptions(output="json")
    assert await run_task("fix it", settings, repo, options, out, err) == 0, err.getvalue()
    result = json.loads(out.getvalue())
    assert result["status"] == "success"
    assert result["turns"] == 6
    assert suite_passes(repo)
    errors = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] == "tool"]
    assert any("not valid JSON" in m for m in errors)
    assert any("no tool named 'apply_fix'" in m for m in errors)


def test_api_that_keeps_failing_exits_1_and_leaves_files_whole(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(fixing_script()[0], *[Fault("status", status=503) for _ in range(3)])
    done = run_cli(
        "run",
        "fix it",
        *model_flags(llm),
        "--approval",
        "full-auto",
        cwd=repo,
        env={"SHIPMATE_MAX_RETRIES": "2"},
    )
    assert done.returncode == 1
    assert "error: The model API failed 3 times in a row" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert (repo / "textutil.py").read_text().startswith("import re\n")
    assert sorted(p.name for p in repo.iterdir()) == [
        ".git",
        ".gitignore",
        "test_textutil.py",
        "textutil.py",
    ]


def test_budget_exit_code_3(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(*[Reply(calls=[tool("list_files")]) for _ in range(3)])
    done = run_cli(
        "run", "loop", *model_flags(llm), "--max-turns", "2", "--output-format", "json", cwd=repo
    )
    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert result["status"] == "budget_exceeded"
    assert result["turns"] == 2


def test_no_model_and_no_key_exits_2_naming_the_variables(repo: Path) -> None:
    done = run_cli("run", "fix it", cwd=repo)
    assert done.returncode == 2
    assert "ANTHROPIC_API_KEY" in done.stderr and "OPENAI_API_KEY" in done.stderr
    assert "--api-base" in done.stderr
    assert "Traceback" not in done.stderr


def test_config_errors_in_json_mode_still_print_json(repo: Path) -> None:
    done = run_cli(
        "run", "x", "--model", "anthropic/claude-sonnet-4-5", "--output-format", "json", cwd=repo
    )
    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["status"] == "config_error"
    assert "ANTHROPIC_API_KEY" in result["error"]
    done = run_cli(
        "run", "x", "--model", "no-such-model", "--output-format", "stream-json", cwd=repo
    )
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"].startswith("Unknown model 'no-such-model'")
    assert "Provider List" not in done.stdout


def test_wrong_key_is_a_config_error(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("status", status=401, body='{"error": {"message": "invalid api key"}}'))
    done = run_cli("run", "x", *model_flags(llm), "--output-format", "stream-json", cwd=repo)
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1]["status"] == "config_error"
    assert "401" in lines[-1]["error"]


def test_usage_errors_exit_2(repo: Path) -> None:
    assert run_cli("run", "x", "--approval", "yolo", cwd=repo).returncode == 2
    for args in (["run"], ["run", "x", "--bogus"], ["-p", "x", "--max-turns", "many"]):
        done = run_cli(*args, cwd=repo)
        assert done.returncode == 2
        assert done.stderr.startswith("usage: shipmate run "), done.stderr
        assert "shipmate run: error: " in done.stderr
        assert done.stdout == ""
    done = run_cli("run", "x", "--max-turns", "0", cwd=repo)
    assert done.returncode == 2
    assert "--max-turns should be greater than or equal to 1 (got 0)" in done.stderr
    assert "settings" not in done.stderr
    (repo / ".shipmate.toml").write_text('approval = "sometimes"\n')
    done = run_cli("run", "x", cwd=repo)
    assert done.returncode == 2
    assert ".shipmate.toml" in done.stderr and "approval" in done.stderr


def test_usage_errors_in_json_mode_end_with_a_result_object(repo: Path) -> None:
    cases = [
        (["--max-cost", "abc"], "argument --max-cost: expected a number, got abc"),
        (["--max-turns", "0"], "Invalid flag: --max-turns should be"),
        (["-C", "/nope"], "-C /nope: there is no such directory"),
        (["--allow", ""], "--allow needs a pattern"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ]
    runs = [(flags, error, "json") for flags, error in cases]
    runs += [(flags, error, "stream-json") for flags, error in cases[:2]]
    for flags, error, output in runs:
        done = run_cli("run", "x", *flags, f"--output-format={output}", cwd=repo)
        assert done.returncode == 2, (flags, done.stderr)
        (line,) = done.stdout.splitlines()
        result = json.loads(line)
        assert result["type"] == "result" and result["status"] == "config_error"
        assert error in result["error"], result
        assert "Traceback" not in done.stderr
    done = run_cli("-p", "--output", "json", cwd=repo, stdin="  \n")  # an empty task
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"] == "run needs a TASK (as an argument, or on stdin)"


def test_ctrl_c_cancels_cleanly(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("stall", seconds=60))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "run",
            "x",
            *model_flags(llm),
            "--output-format",
            "stream-json",
        ],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not llm.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert time.monotonic() - sent < 5
    assert process.returncode == 130
    assert "Traceback" not in err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["type"] == "result"
    assert events[-1]["status"] == "cancelled"


def test_doctor_names_keys_but_never_shows_them(repo: Path) -> None:
    done = run_cli("doctor", cwd=repo, env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ANTHROPIC_API_KEY set" in done.stdout
    assert "sk-ant-secret-value" not in done.stdout + done.stderr
    assert "anthropic/claude-sonnet-4-5 (chosen from the API key present)" in done.stdout
    assert "git repository, branch main" in done.stdout
    done = run_cli("doctor", cwd=repo)
    assert done.returncode == 1
    assert "No model is configured" in done.stdout


def test_works_from_a_subdirectory_of_the_repo(llm: ScriptedLLM, repo: Path) -> None:
    (repo / "pkg").mkdir()
    llm.add(Reply(calls=[tool("read_file", path="textutil.py")]), Reply(text="read it"))
    done = run_cli("run", "read", *model_flags(llm), cwd=repo / "pkg")
    assert done.returncode == 0, done.stderr
    assert "def slugify" in llm.requests[1]["messages"][-1]["content"]


async def test_full_auto_run_is_told_the_network_is_off_and_carries_on(
    llm: ScriptedLLM, repo: Path
) -> None:
    """In-process: the subject is the sandbox and the loop, not the process."""
    fetch = (
        'python3 -c "import urllib.request; '
        "urllib.request.urlopen('https://pypi.org', timeout=5)\""
    )
    llm.add(
        Reply(calls=[tool("run_command", command=fetch)]),
        Reply(text="The network is off in the sandbox, so I vendored nothing."),
    )
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url, approval="full-auto")
    options = RunOptions(output="stream-json")
    assert await run_task("add requests", settings, repo, options, out, err) == 0, err.getvalue()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["sandbox"].startswith("bubblewrap, network off")
    finished = next(e for e in events if e["type"] == "tool_finished")
    assert finished["status"] == "error"
    assert (
        "the sandbox has no network; the user can allow it with --allow-network"
        in finished["output"]
    )
    assert events[-1]["status"] == "success"
    assert events[-1]["permission_denials"] == []
