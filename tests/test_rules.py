"""Rules that do what they look like: refused when they could never match, said when they
exist already, and warned about when they allow (nearly) everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.policy.rules import Rule, RuleBook, rule_problem, rule_warning

from helpers import run_cli


def command(pattern: str, action: str = "allow") -> Rule:
    return Rule(action=action, tool="command", pattern=pattern)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (command(""), "The pattern is empty; give the command it should match"),
        (command("   "), "The pattern is empty"),
        (command("pytest 'x"), 'The pattern "pytest \'x" has a quote that is not closed'),
        (Rule(action="allow", tool="edit", pattern=""), "The pattern is empty; give a path"),
        (Rule(action="allow", tool="read", pattern="/"), "The pattern is empty"),
        (Rule(action="deny", tool="edit", pattern="./"), "The pattern is empty"),
    ],
)
def test_rules_that_could_never_match_are_refused(rule: Rule, problem: str, ws: Path) -> None:
    found = rule_problem(rule, ws)
    assert found is not None and found.startswith(problem)


def test_an_absolute_path_inside_the_workspace_is_refused_with_the_fix(ws: Path) -> None:
    rule = Rule(action="allow", tool="edit", pattern=f"{ws}/src/**")
    assert rule_problem(rule, ws) == (
        f"Path patterns are relative to the workspace root ({ws}); a leading / anchors them "
        "there, so write '/src/**' or 'src/**'."
    )


@pytest.mark.parametrize(
    "rule",
    [
        command("pytest *"),
        command("npm run test*"),
        command("git diff *"),
        Rule(action="allow", tool="edit", pattern="src/**"),
        Rule(action="allow", tool="read", pattern=".env.test"),
        Rule(action="allow", tool="read", pattern="/[*][*]/.env"),  # a folder named **
    ],
)
def test_ordinary_rules_pass_without_a_warning(rule: Rule, ws: Path) -> None:
    assert rule_problem(rule, ws) is None
    assert rule_warning(rule) is None


@pytest.mark.parametrize("pattern", ["*", "* *", "?*", "**"])
def test_a_rule_allowing_every_command_is_warned_about(pattern: str) -> None:
    warning = rule_warning(command(pattern))
    assert warning is not None
    assert "allows every command in the sandbox without asking" in warning
    assert rule_warning(command(pattern, "deny")) is None  # refusing everything is plain


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("git *", "git runs any command through git bisect run"),
        ("git*", "git runs any command"),
        ("bash *", "bash runs the code of any script it is given"),
        ("python3 *", "python3 runs the code of any script"),
        ("env *", "env runs any command it is given"),
        ("/usr/bin/env *", "env runs any command it is given"),
        ("xargs *", "xargs runs any command"),
        ("find *", "find runs any command with -exec"),
        ("uv run *", "uv run runs any command it is given"),
        ("uv *", "uv run runs any command it is given"),
        ("npx *", "npx runs any command"),
    ],
)
def test_a_rule_for_a_program_that_runs_anything_is_warned_about(pattern: str, why: str) -> None:
    warning = rule_warning(command(pattern))
    assert warning is not None
    assert why in warning
    assert "nearly as wide as allowing every command in the sandbox" in warning


@pytest.mark.parametrize(
    ("tool", "pattern", "words"),
    [
        ("edit", "**", "edit every file of this project"),
        ("edit", "*", "edit every file of this project"),
        ("read", "**", "read every file that usually holds secrets"),
        ("read", "*", "read every file that usually holds secrets"),
        ("read", "/**", "read every file that usually holds secrets"),
    ],
)
def test_path_rules_covering_everything_are_warned_about(
    tool: str, pattern: str, words: str
) -> None:
    warning = rule_warning(Rule(action="allow", tool=tool, pattern=pattern))
    assert warning is not None and words in warning


def test_the_same_rule_is_not_added_twice(ws: Path) -> None:
    book = RuleBook(ws)
    assert book.add(command("pytest *"))
    assert not book.add(command("pytest   *"))  # the same words
    assert not book.add(command("'pytest' *"))
    assert book.add(command("pytest *", "deny"))
    assert book.add(command("pytest"))
    assert [rule.describe() for rule in RuleBook(ws).rules] == [
        "allow command pytest *",
        "deny command pytest *",
        "allow command pytest",
    ]


def test_rules_add_refuses_warns_and_says_when_a_rule_exists(ws: Path) -> None:
    done = run_cli("rules", "add", "", cwd=ws)
    assert done.returncode == 2
    assert done.stderr.startswith("shipmate: The pattern is empty;")
    assert RuleBook(ws).rules == []

    done = run_cli("rules", "add", "*", cwd=ws)
    assert done.returncode == 0
    assert done.stdout == "Added: allow command *\n"
    assert done.stderr.startswith("Warning: '*' allows every command in the sandbox")

    done = run_cli("rules", "add", " * ", cwd=ws)
    assert done.returncode == 0
    assert done.stdout == "Already a rule: 1. allow command *\n"
    assert len(RuleBook(ws).rules) == 1


def test_an_interpreter_with_m_or_c_is_warned_about() -> None:
    from agent.policy.rules import Rule, rule_warning

    def warning(pattern: str) -> str | None:
        return rule_warning(Rule(action="allow", tool="command", pattern=pattern))

    assert "runs any module" in (warning("python -m *") or "")
    assert "runs any code" in (warning("python3 -c *") or "")
    assert warning("python3 -m pytest *") is None


def test_mcp_tool_rules_name_tools_and_warn_when_they_cover_every_server(ws: Path) -> None:
    done = run_cli("rules", "add", "mcp__github__get_*", cwd=ws)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "Added: allow mcp mcp__github__get_*\n",
        "",
    )
    done = run_cli("rules", "add", "--deny", "mcp__*", cwd=ws)
    assert done.stdout == "Added: deny mcp mcp__*\n" and done.stderr == ""
    assert [rule.describe() for rule in RuleBook(ws).rules] == [
        "allow mcp mcp__github__get_*",
        "deny mcp mcp__*",
    ]
    everything = Rule(action="allow", tool="mcp", pattern="mcp__*")
    assert "every tool of every MCP server" in (rule_warning(everything) or "")
    for pattern in ("mcp__", "github__get_issue"):
        problem = rule_problem(Rule(action="allow", tool="mcp", pattern=pattern), ws)
        assert problem is not None and "mcp__SERVER__TOOL" in problem
