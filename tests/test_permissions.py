"""The permission policy: modes, rules, the built-in read-only commands, escalation, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.policy.approval import ApprovalRequest, Decision
from agent.policy.permissions import READ_ONLY_REFUSAL, Permissions
from agent.policy.rules import Rule, RuleBook, rules_path
from tools.edit import EditFile
from tools.files import ReadFile, WriteFile
from tools.plan import UpdatePlan
from tools.search import Grep
from tools.shell import RunCommand

from helpers import make_agent, run_cli
from scripted_llm import Reply, ScriptedLLM, tool


def policy(ws: Path, mode: str = "ask", sandboxed: bool = True, *rules: Rule) -> Permissions:
    book = RuleBook(ws)
    for rule in rules:
        book.add(rule)
    return Permissions(mode, book, ws, sandboxed)


def verdict(permissions: Permissions, tool_call) -> str:
    return permissions.check(tool_call).verdict


EDIT = WriteFile(path="src/app.py", content="x")


@pytest.mark.parametrize(
    ("mode", "edit", "command", "listing"),
    [
        ("read-only", "deny", "deny", "deny"),
        ("ask", "ask", "ask", "ask"),
        ("auto-edit", "allow", "ask", "allow"),
        ("full-auto", "allow", "allow", "allow"),
    ],
)
def test_modes(ws: Path, mode: str, edit: str, command: str, listing: str) -> None:
    permissions = policy(ws, mode)
    assert verdict(permissions, EDIT) == edit
    assert verdict(permissions, RunCommand(command="make build")) == command
    assert verdict(permissions, RunCommand(command="ls -la src")) == listing
    assert verdict(permissions, ReadFile(path="src/app.py")) == "allow"
    assert verdict(permissions, UpdatePlan(items=[])) == "allow"


def test_read_only_refusal_tells_the_model_to_propose(ws: Path) -> None:
    check = policy(ws, "read-only").check(EDIT)
    assert check.reason == READ_ONLY_REFUSAL


def test_allow_rules_for_commands_and_edits(ws: Path) -> None:
    permissions = policy(
        ws,
        "ask",
        True,
        Rule(action="allow", tool="command", pattern="pytest *"),
        Rule(action="allow", tool="edit", pattern="src/**"),
    )
    assert verdict(permissions, RunCommand(command="pytest -q tests/")) == "allow"
    assert verdict(permissions, RunCommand(command="pytest -q && pytest -x")) == "allow"
    assert verdict(permissions, RunCommand(command="pytest > report.txt")) == "allow"
    assert verdict(permissions, RunCommand(command="pytest; make")) == "ask"
    assert (
        verdict(permissions, EditFile(path="src/pkg/a.py", old_text="a", new_text="b")) == "allow"
    )
    assert verdict(permissions, EditFile(path="setup.py", old_text="a", new_text="b")) == "ask"


def test_deny_rules_win_over_every_mode(ws: Path) -> None:
    permissions = policy(
        ws, "full-auto", True, Rule(action="deny", tool="edit", pattern="migrations/**")
    )
    check = permissions.check(WriteFile(path="migrations/0001.py", content=""))
    assert check.verdict == "deny"
    assert "deny edit migrations/**" in check.reason


def test_asking_suggests_the_rule_allow_always_would_save(ws: Path) -> None:
    check = policy(ws).check(RunCommand(command="npm run test -- --watch=false"))
    assert check.verdict == "ask"
    assert check.suggestion == Rule(action="allow", tool="command", pattern="npm run *")
    # Anchored at the workspace root: "allow always" covers this file, not every app.py.
    assert policy(ws).check(EDIT).suggestion == Rule(
        action="allow", tool="edit", pattern="/src/app.py"
    )


def test_escalation_always_asks_and_is_never_remembered(ws: Path) -> None:
    permissions = policy(ws, "full-auto", True, Rule(action="allow", tool="command", pattern="*"))
    check = permissions.check(
        RunCommand(command="pip install rich", outside_sandbox=True, justification="needs PyPI")
    )
    assert check.verdict == "ask"
    assert "outside the sandbox: needs PyPI" in check.reason
    assert check.suggestion is None


def test_without_a_sandbox_every_command_asks(ws: Path) -> None:
    permissions = policy(
        ws, "full-auto", False, Rule(action="allow", tool="command", pattern="ls *")
    )
    check = permissions.check(RunCommand(command="ls"))
    assert check.verdict == "ask"
    assert "no sandbox" in check.reason
    assert verdict(permissions, EDIT) == "allow"


def test_secret_files_ask_even_in_full_auto_unless_a_rule_allows(ws: Path) -> None:
    permissions = policy(ws, "full-auto")
    assert verdict(permissions, ReadFile(path=".env")) == "ask"
    assert verdict(permissions, Grep(pattern="KEY", path="config/.env.local")) == "ask"
    assert verdict(permissions, ReadFile(path=".env.example")) == "allow"
    permissions.remember(Rule(action="allow", tool="read", pattern=".env"))
    assert verdict(permissions, ReadFile(path=".env")) == "allow"


def test_rules_persist_per_project_outside_the_repo(ws: Path, tmp_path: Path) -> None:
    book = RuleBook(ws)
    book.add(Rule(action="allow", tool="command", pattern="pytest *"))
    assert rules_path(ws).is_file()
    assert not rules_path(ws).is_relative_to(ws)
    assert RuleBook(ws).rules == book.rules
    other = tmp_path / "other"
    other.mkdir()
    assert RuleBook(other).rules == []


def test_a_damaged_rules_file_is_a_clear_error(ws: Path) -> None:
    from agent.config import ConfigError

    rules_path(ws).parent.mkdir(parents=True, exist_ok=True)
    rules_path(ws).write_text("{not json")
    with pytest.raises(ConfigError, match="is damaged; fix it or delete it"):
        RuleBook(ws)


class AllowAlways:
    """An approver that answers "allow always" to everything."""

    def __init__(self) -> None:
        self.requests: list[ApprovalRequest] = []

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        return Decision(allow=True, remember=True)


async def test_allow_always_saves_the_rule_and_stops_asking(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(calls=[tool("run_command", command="git log --oneline -n 1")]),
        Reply(calls=[tool("run_command", command="git log -n 1 --format=again:%s")]),
        Reply(text="done"),
    )
    approver = AllowAlways()
    events = [e async for e in make_agent(llm, repo, approval="ask", approver=approver).send("x")]
    assert events[-1].status == "success"
    assert [r.suggestion for r in approver.requests] == ["allow command git log *"]
    assert [r.describe() for r in RuleBook(repo).rules] == ["allow command git log *"]
    outputs = [m["content"] for m in llm.requests[2]["messages"] if m["role"] == "tool"]
    assert "initial" in outputs[0] and "again:initial" in outputs[1]


def test_rules_command(repo: Path) -> None:
    done = run_cli("rules", cwd=repo)
    assert done.returncode == 0 and "none yet" in done.stdout
    assert (
        run_cli("rules", "add", "pytest *", cwd=repo).stdout.strip()
        == "Added: allow command pytest *"
    )
    run_cli("rules", "add", "--deny", "git push *", cwd=repo)
    run_cli("rules", "add", "--edit", "src/**", cwd=repo)
    listing = run_cli("rules", "list", cwd=repo).stdout
    assert "1. allow command pytest *" in listing
    assert "2. deny command git push *" in listing
    assert "3. allow edit src/**" in listing
    assert (
        run_cli("rules", "remove", "2", cwd=repo).stdout.strip()
        == "Removed: deny command git push *"
    )
    assert [r.describe() for r in RuleBook(repo).rules] == [
        "allow command pytest *",
        "allow edit src/**",
    ]
    done = run_cli("rules", "remove", "9", cwd=repo)
    assert done.returncode == 2 and "there is no rule 9" in done.stderr


async def test_a_saved_rule_lets_a_headless_run_use_the_command(
    llm: ScriptedLLM, repo: Path
) -> None:
    """The rule saved by ``shipmate rules add``; the run in-process through ``run_task``
    (the function behind ``shipmate run``), as its subject is the rule, not the process."""
    import io
    import json

    from agent.config import Settings
    from agent.frontends.headless import RunOptions, run_task

    assert run_cli("rules", "add", "python -m pytest *", cwd=repo).returncode == 0
    llm.add(Reply(calls=[tool("run_command", command="python -m pytest -q -p no:cacheprovider")]))
    llm.add(Reply(text="ran"))
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url)
    assert await run_task("test", settings, repo, RunOptions(output="json"), out, err) == 0
    result = json.loads(out.getvalue())
    assert result["permission_denials"] == []
    assert "1 failed, 1 passed" in llm.requests[1]["messages"][-1]["content"]


def test_a_write_outside_the_workspace_is_its_own_refusal(ws: Path) -> None:
    """An allowed program with a redirection outside the workspace: no rule fixes that, so
    no rule is suggested, and the hint says what does."""
    from agent.events import PermissionDenial
    from agent.policy.hints import hints

    permissions = policy(
        ws, "auto-edit", True, Rule(action="allow", tool="command", pattern="pytest*")
    )
    assert verdict(permissions, RunCommand(command="pytest -q > report.txt")) == "allow"
    for line in ("pytest > /tmp/outside.txt", "pytest 2>/tmp/err.txt"):
        check = permissions.check(RunCommand(command=line))
        assert (check.verdict, check.refusal, check.suggestion) == ("ask", "writes_outside", None)
    denial = PermissionDenial(
        call_id="c", tool="run_command", kind="execute", summary="s", reason="r",
        refusal="writes_outside",
    )  # fmt: skip
    (hint,) = hints([denial], "auto-edit")
    assert "outside the workspace" in hint and "shipmate rules add" not in hint


def test_a_rule_wide_enough_to_run_anything_is_never_suggested(ws: Path) -> None:
    permissions = policy(ws, "auto-edit")
    for line in ("exec pytest", "bash -c 'make'", "env FOO=1 make"):
        check = permissions.check(RunCommand(command=line))
        assert check.suggestion is None, line
    assert permissions.check(RunCommand(command="make build")).suggestion.pattern == "make build *"


def test_unverifiable_hint_names_where_a_run_deny_rule_came_from() -> None:
    from agent.events import PermissionDenial
    from agent.policy.hints import hints

    denial = PermissionDenial(
        call_id="c", tool="run_command", kind="execute", summary="s", reason="r",
        refusal="unverifiable",
    )  # fmt: skip
    (mine,) = hints([denial], "full-auto")
    (for_run,) = hints([denial], "full-auto", ["deny command git push*"])
    assert "your deny rules" in mine and "--deny" not in mine
    assert "--deny for this run" in for_run
