"""The git tools the model gets: read-only status/diff/log, and commits of its own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import ApprovalRequested, ToolFinished
from agent.policy.rules import Rule
from agent.vcs import git as vcs_git

from helpers import drain, edit, git, identity, make_agent, run_cli
from scripted_llm import Reply, ScriptedLLM, tool

pytestmark = pytest.mark.usefixtures("git_calls")
HOOK_FAILS = "#!/bin/sh\necho 'lint: line too long in' $(git diff --cached --name-only)\nexit 1\n"


def finished(events: list, name: str) -> list[ToolFinished]:
    return [e for e in events if isinstance(e, ToolFinished) and e.name == name]


async def test_git_commit_commits_exactly_the_agents_files(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    (repo / "mine.py").write_text("the user's staged file\n")
    git(repo, "add", "mine.py")
    (repo / "test_textutil.py").write_text("# the user's unstaged edit\n")
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport os\n"),
        Reply(calls=[tool("git_commit", message="Import os\n\nNeeded for paths.")]),
        Reply(text="committed"),
    )
    agent = make_agent(llm, repo, approval="auto-edit")
    events = await drain(agent, "import os and commit")
    [commit] = finished(events, "git_commit")
    assert commit.status == "ok", commit.output
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["textutil.py"]
    message = git(repo, "log", "-1", "--format=%an <%ae>%n%B")
    assert message.startswith("Ada User <ada@example.com>\nImport os\n\nNeeded for paths.\n")
    assert "Co-authored-by: Shipmate (openai/scripted)" in message
    assert git(repo, "diff", "--cached", "--name-only") == "mine.py\n"
    assert git(repo, "status", "--porcelain") == "A  mine.py\n M test_textutil.py\n"


async def test_a_failing_pre_commit_hook_goes_back_to_the_model(
    llm: ScriptedLLM, repo: Path
) -> None:
    identity(repo)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(HOOK_FAILS)
    hook.chmod(0o755)
    head = git(repo, "rev-parse", "HEAD")
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport os\n"),
        Reply(calls=[tool("git_commit", message="Import os")]),
        Reply(text="the hook failed"),
    )
    agent = make_agent(llm, repo, approval="auto-edit")
    events = await drain(agent, "commit")
    [commit] = finished(events, "git_commit")
    assert commit.status == "error"
    assert "pre-commit hook failed" in commit.output
    assert "lint: line too long in textutil.py" in commit.output  # it saw what is committed
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == " M textutil.py\n"


async def test_commits_ask_in_ask_mode_and_read_only_refuses(llm: ScriptedLLM, repo: Path) -> None:
    identity(repo)
    (repo / "textutil.py").write_text("changed by the user\n")
    llm.add(Reply(calls=[tool("git_commit", message="Commit")]), Reply(text="no"))
    agent = make_agent(llm, repo, approval="ask")
    events = await drain(agent, "commit")
    assert any(isinstance(e, ApprovalRequested) and e.kind == "git" for e in events)
    assert finished(events, "git_commit")[0].status == "denied"
    llm.add(Reply(calls=[tool("git_commit", message="Commit")]), Reply(text="no"))
    agent = make_agent(llm, repo, approval="read-only")
    events = await drain(agent, "commit")
    assert finished(events, "git_commit")[0].refusal == "read_only"


async def test_nothing_to_commit_and_a_long_subject_are_errors_the_model_can_fix(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(
        Reply(calls=[tool("git_commit", message="x" * 80)]),
        Reply(calls=[tool("git_commit", message="Fix it")]),
        Reply(text="ok"),
    )
    agent = make_agent(llm, repo, approval="auto-edit")
    events = await drain(agent, "commit")
    long, empty = finished(events, "git_commit")
    assert "the subject is 80 characters; keep it to 72" in long.output
    assert "Nothing to commit" in empty.output
    assert "user's" not in empty.output


async def test_git_tool_reads_status_diff_and_log_without_secrets(
    llm: ScriptedLLM, repo: Path
) -> None:
    (repo / ".env").write_text("TOKEN=1\n")
    git(repo, "add", "-f", ".env")
    git(repo, "commit", "-qm", "add env")
    (repo / ".env").write_text("TOKEN=2 secret value\n")
    (repo / "textutil.py").write_text("changed\n")
    llm.add(
        Reply(
            calls=[
                tool("git", action="status"),
                tool("git", action="diff"),
                tool("git", action="log", count=5),
                tool("git", action="diff", revision="--output=/tmp/x"),
            ]
        ),
        Reply(text="read"),
    )
    agent = make_agent(llm, repo, approval="ask")
    events = await drain(agent, "look")
    status, diff, log, bad = finished(events, "git")
    assert "## main" in status.output and " M textutil.py" in status.output
    assert "+changed" in diff.output and "secret value" not in diff.output
    assert "left out, secret files: .env" in diff.output
    assert "Test: add env" in log.output and "Test: initial" in log.output
    assert bad.status == "error" and "revision" in bad.output


def test_cli_diff_then_undo_twice(llm: ScriptedLLM, repo: Path) -> None:
    original = (repo / "textutil.py").read_text()
    llm.add(edit("textutil.py", "import re\n", "import re\nimport os\n"), Reply(text="done"))
    run = run_cli(
        "run", "--approval", "auto-edit", "--model", "openai/scripted", "--api-base", llm.url,
        "import os", cwd=repo, env={"OPENAI_API_KEY": "k"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    shown = run_cli("diff", cwd=repo)
    assert shown.returncode == 0 and "+import os" in shown.stdout, shown.stderr
    assert "\x1b[" not in shown.stdout  # no colour when stdout is not a terminal
    first = run_cli("undo", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert "Restored: textutil.py" in first.stdout
    assert (repo / "textutil.py").read_text() == original
    again = run_cli("undo", cwd=repo)
    assert again.returncode == 1 and "nothing to undo" in again.stderr


def test_branch_flag_starts_a_branch_and_refuses_mid_merge(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="hi"))
    args = ("run", "--model", "openai/scripted", "--api-base", llm.url)
    done = run_cli(*args, "--branch", "feature/x", "hi", cwd=repo, env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 0, done.stderr
    assert "started branch feature/x" in done.stderr
    assert git(repo, "branch", "--show-current") == "feature/x\n"
    bad = run_cli(*args, "--branch", "no..good", "hi", cwd=repo, env={"OPENAI_API_KEY": "k"})
    assert bad.returncode == 2 and "not a valid branch name" in bad.stderr
    (repo / ".git" / "MERGE_HEAD").write_text(git(repo, "rev-parse", "HEAD"))
    refused = run_cli(*args, "--branch", "other", "hi", cwd=repo, env={"OPENAI_API_KEY": "k"})
    assert refused.returncode == 2 and "a merge is in progress" in refused.stderr
    assert git(repo, "branch", "--show-current") == "feature/x\n"


@pytest.fixture(autouse=True)
def _fresh_discovery() -> None:
    vcs_git.forget()


async def test_a_new_secret_file_is_left_out_of_the_agents_commit(
    llm: ScriptedLLM, repo: Path
) -> None:
    identity(repo)
    llm.add(
        Reply(
            calls=[
                tool("write_file", path="config.py", content="TOKEN = None\n"),
                tool("write_file", path=".env", content="TOKEN=abc\n"),
            ]
        ),
        Reply(calls=[tool("git_commit", message="Add config")]),
        Reply(text="done"),
    )
    agent = make_agent(llm, repo, approval="full-auto")
    agent.permissions.rules.add(Rule(action="allow", tool="read", pattern=".env"))
    events = await drain(agent, "config")
    [commit] = finished(events, "git_commit")
    assert commit.status == "ok", commit.output
    assert "Left out, as files that usually hold secrets: .env" in commit.output
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["config.py"]
