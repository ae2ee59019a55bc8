"""The end of an unattended run says how to fix each refusal, from the refusal's own cause.

The agent runs in-process against the scripted model, with real permissions, real files and,
where it matters, a real sandbox that is absent (no bwrap); the hints and the text output
are then read as a user would.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from agent.config import Settings
from agent.conversation import Conversation
from agent.events import PermissionDenial, Result, ToolFinished
from agent.frontends.headless import RunOptions, TextOutput, run_task
from agent.llm import LLM
from agent.policy.approval import HeadlessApprover
from agent.policy.hints import hints
from agent.policy.rules import Rule, RuleBook, rules_path
from agent.session import SessionStore
from tools.limits import Limits
from tools.sandbox import Sandbox, SandboxSettings

from scripted_llm import Reply, ScriptedLLM, tool


def agent_without_sandbox(llm: ScriptedLLM, repo: Path, deny: str) -> Conversation:
    """A full-auto agent on a machine where bubblewrap is not installed."""
    settings = Settings(model="openai/scripted", api_base=llm.url, approval="full-auto")
    sandbox = Sandbox(
        SandboxSettings(repo.resolve()),
        None,
        Limits(settings.command_memory_mb, settings.command_max_processes),
        problem="bubblewrap (bwrap) is not installed",
    )
    return Conversation(
        llm=LLM(settings.model or "", api_base=llm.url, api_key="k", max_retries=0),
        settings=settings,
        workspace=repo,
        approver=HeadlessApprover(settings.approval),
        store=SessionStore(repo.parent / "sessions.db"),
        sandbox=sandbox,
        rules=RuleBook(repo, [Rule(action="deny", tool="command", pattern=deny)]),
    )


async def test_full_auto_refusals_each_name_their_own_fix(llm: ScriptedLLM, repo: Path) -> None:
    (repo / ".env").write_text("TOKEN=1\n")
    llm.add(
        Reply(
            calls=[
                tool("run_command", command="git push origin main"),
                tool("read_file", path=".env"),
                tool("run_command", command="python -m pytest -q"),
                tool("run_command", command="ls"),
            ]
        ),
        Reply(text="Could not do much."),
    )
    agent = agent_without_sandbox(llm, repo, "git push *")
    events = [event async for event in agent.send("ship it")]
    refused = [e for e in events if isinstance(e, ToolFinished) and e.status == "denied"]
    assert [(e.refusal, e.rule, e.path) for e in refused] == [
        ("deny_rule", "deny command git push *", None),
        ("secret_file", None, ".env"),
        ("no_sandbox", None, None),
        ("no_sandbox", None, None),
    ]
    result = events[-1]
    assert isinstance(result, Result)
    assert [d.refusal for d in result.permission_denials] == [e.refusal for e in refused]

    found = hints(result.permission_denials, "full-auto")
    assert len(found) == 3
    deny, secret, sandbox = found
    assert deny.startswith("1 command was refused by your rule 'deny command git push *'")
    assert "`shipmate rules`" in deny
    assert secret.startswith("1 read was refused because .env usually holds secrets")
    assert "`shipmate rules add --read /.env`" in secret
    assert sandbox.startswith("2 commands were refused because there is no sandbox here")
    assert "install bubblewrap" in sandbox and "--dangerously-no-sandbox" in sandbox
    assert not any("--approval" in hint for hint in found)  # the run was full-auto already

    err = io.StringIO()
    shown = TextOutput(io.StringIO(), err)
    for event in events[:-1]:
        shown.show(event)
    shown.show(result.model_copy(update={"hints": found}))
    text = err.getvalue()
    assert "⊘ denied by the rule 'deny command git push *'" in text
    assert "⊘ refused (.env usually holds secrets)" in text
    assert text.count("⊘ refused (no sandbox here)") == 2
    assert "refused (needs approval)" not in text
    assert text.rstrip().endswith(sandbox)


async def test_a_one_shot_run_in_ask_mode_names_the_mode_or_the_rule(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(
        Reply(
            calls=[
                tool(
                    "edit_file", path="textutil.py", old_text="import re\n", new_text="import os\n"
                ),
                tool("run_command", command="python -m pytest -q"),
            ]
        ),
        Reply(text="I could not."),
    )
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url)
    code = await run_task("fix it", settings, repo, RunOptions(output="json"), out, err)
    assert code == 0
    result = json.loads(out.getvalue())
    assert [d["refusal"] for d in result["permission_denials"]] == ["needs_approval"] * 2
    edit, command = result["hints"]
    assert edit == (
        "1 edit was refused because edits need approval in ask mode; rerun with --approval "
        "auto-edit or `shipmate rules add --edit /textutil.py` to allow it."
    )
    assert command.startswith("1 command was refused because approval is needed in ask mode")
    assert "`shipmate rules add 'python -m pytest *'`" in command
    assert "--allow 'python -m pytest *'" in command


def denial(kind: str, refusal: str, **why: str) -> PermissionDenial:
    return PermissionDenial(
        call_id="c", tool="t", kind=kind, summary="s", reason="r", refusal=refusal, **why
    )


def test_hints_group_by_cause_and_count_in_words() -> None:
    found = hints(
        [
            denial("edit", "read_only"),
            denial("execute", "read_only"),
            denial("execute", "outside_sandbox"),
            denial("execute", "unverifiable", rule="deny command rm *"),
            denial("execute", "deny_rule", rule="deny command git push *"),
        ],
        "read-only",
        run_rules=["deny command git push *"],
    )
    assert found == [
        "2 actions were refused because the run was read-only; rerun with --approval auto-edit "
        "(edits) or full-auto (edits and commands) to allow them.",
        "1 command was refused because it asked to run outside the sandbox, which needs a "
        "person's approval every time; run it yourself if needed.",
        "1 command was refused because it could run a command your rule 'deny command rm *' "
        "refuses, and that cannot be checked; run it yourself if needed.",
        "1 command was refused by 'deny command git push *', which --deny set for this run.",
    ]


async def test_allow_and_deny_apply_to_this_run_only(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(calls=[tool("run_command", command="echo hi"), tool("run_command", command="ls")]),
        Reply(text="done"),
    )
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url)
    options = RunOptions(output="stream-json", allow=["echo *"], deny=["ls *"])
    assert await run_task("go", settings, repo, options, out, err) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    finished = [e for e in events if e["type"] == "tool_finished"]
    assert finished[0]["status"] == "ok" and "hi" in finished[0]["output"]
    assert (finished[1]["status"], finished[1]["refusal"]) == ("denied", "deny_rule")
    assert events[-1]["hints"] == [
        "1 command was refused by 'deny command ls *', which --deny set for this run."
    ]
    assert not rules_path(repo).exists()  # nothing was saved
