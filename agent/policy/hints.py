"""What to do about the refusals of an unattended run: one hint per cause, naming the fix.

A refusal's cause decides the fix: a missing sandbox is not fixed by a wider approval mode,
nor a deny rule or a secret file; so each hint is derived from the refusal's reason.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from agent.config import ApprovalMode
from agent.events import PermissionDenial
from tools.base import plural

NOUNS = {"edit": "edit", "execute": "command", "read": "read"}


def hints(
    denials: list[PermissionDenial], mode: ApprovalMode, run_rules: Sequence[str] = ()
) -> list[str]:
    """One sentence per distinct cause, in the order they first happened. ``run_rules`` are
    the rules given on the command line for this run (``--deny``), described."""
    groups: dict[tuple[str, str], list[PermissionDenial]] = {}
    for denial in denials:
        edit = denial.refusal == "needs_approval" and denial.kind == "edit"  # one hint for all
        key = denial.rule or denial.path or ("" if edit else denial.suggestion) or ""
        groups.setdefault((denial.refusal, key), []).append(denial)
    return [_hint(group, mode, list(run_rules)) for group in groups.values()]


def _hint(group: list[PermissionDenial], mode: ApprovalMode, run_rules: list[str]) -> str:
    first = group[0]
    one = len(group) == 1
    refused = f"{_count(group)} {'was' if one else 'were'} refused"
    them = "it" if one else "them"
    match first.refusal:
        case "read_only":
            return (
                f"{refused} because the run was read-only; rerun with --approval auto-edit "
                "(edits) or full-auto (edits and commands) to allow them."
            )
        case "deny_rule":
            if first.rule in run_rules:
                return f"{refused} by '{first.rule}', which --deny set for this run."
            return (
                f"{refused} by your rule '{first.rule}'; `shipmate rules` lists your rules and "
                "`shipmate rules remove N` removes one."
            )
        case "no_sandbox":
            return (
                f"{refused} because there is no sandbox here: install bubblewrap "
                "(apt-get install bubblewrap), or pass --dangerously-no-sandbox to let commands "
                "run unconfined, as you, with access to all your files and the network."
            )
        case "outside_sandbox":
            return (
                f"{refused} because {'it' if one else 'they'} asked to run outside the sandbox, "
                f"which needs a person's approval every time; run {them} yourself if needed."
            )
        case "secret_file":
            pattern = _pattern(first.suggestion) or first.path or ""
            return (
                f"{refused} because {first.path} usually holds secrets; to let Shipmate read "
                f"it, run `shipmate rules add --read {shlex.quote(pattern)}`."
            )
        case "unverifiable":
            if first.rule:
                return (
                    f"{refused} because {'it' if one else 'they'} could run a command your rule "
                    f"'{first.rule}' refuses, and that cannot be checked; run {them} yourself "
                    "if needed."
                )
            if mode == "full-auto":
                rules = (
                    "the deny rules (--deny for this run; `shipmate rules` lists yours)"
                    if run_rules
                    else "your deny rules (`shipmate rules` lists them)"
                )
                return (
                    f"{refused} because what {'it runs' if one else 'they run'} cannot be "
                    f"checked against {rules}; run {them} yourself if needed."
                )
            return (
                f"{refused} because what {'it runs' if one else 'they run'} cannot be checked; "
                "--approval full-auto runs such commands in the sandbox."
            )
        case "writes_outside":
            return (
                f"{refused} because {'it writes' if one else 'they write'} outside the "
                "workspace (such as `> /tmp/out`), which no rule allows; --approval full-auto "
                f"runs {them} in the sandbox, where only the workspace can be written, or run "
                f"{them} yourself."
            )
    return _needs_approval(refused, first, mode, them)


def _needs_approval(refused: str, first: PermissionDenial, mode: ApprovalMode, them: str) -> str:
    pattern = _pattern(first.suggestion)
    if first.kind == "edit":
        rule = f" or `shipmate rules add --edit {shlex.quote(pattern)}`" if pattern else ""
        return (
            f"{refused} because edits need approval in {mode} mode; rerun with --approval "
            f"auto-edit{rule} to allow {them}."
        )
    if pattern:
        quoted = shlex.quote(pattern)
        return (
            f"{refused} because approval is needed in {mode} mode; allow {them} with "
            f"`shipmate rules add {quoted}` (or --allow {quoted} for one run), or rerun with "
            "--approval full-auto."
        )
    return f"{refused} because approval is needed in {mode} mode; rerun with --approval full-auto."


def _count(group: list[PermissionDenial]) -> str:
    kinds = {denial.kind for denial in group}
    noun = NOUNS.get(next(iter(kinds)), "action") if len(kinds) == 1 else "action"
    return plural(len(group), noun)


def _pattern(described: str | None) -> str:
    """The pattern of a rule as ``Rule.describe`` wrote it: ``allow command pytest *``."""
    if not described:
        return ""
    return described.split(" ", 2)[-1]
