"""Asking a person: the request a front-end shows, and the decision it sends back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from agent.config import ApprovalMode
from agent.events import ApprovalRequested, Error, Event, PermissionDenial, ToolKindName

if TYPE_CHECKING:
    from agent.policy.permissions import Check, Permissions
    from tools.base import Tool

REFUSED = "Refused by the user. Do not retry it."


class ApprovalRequest(BaseModel):
    call_id: str
    name: str
    kind: ToolKindName
    summary: str
    reason: str = ""
    suggestion: str | None = None
    arguments: dict[str, Any] = {}


class Decision(BaseModel):
    """allow once, allow always (``remember``: save the suggested rule), deny, deny always
    (``remember``: save the suggested rule turned into a deny), or deny with a ``message``
    that tells the model what to do instead."""

    allow: bool
    remember: bool = False
    message: str = ""


class Approver(Protocol):
    async def decide(self, request: ApprovalRequest) -> Decision: ...


class HeadlessApprover:
    """For one-shot runs: nobody is there to answer, so whatever would ask is refused."""

    def __init__(self, mode: ApprovalMode) -> None:
        self.mode = mode

    async def decide(self, request: ApprovalRequest) -> Decision:
        why = f" ({request.reason})" if request.reason else ""
        return Decision(
            allow=False,
            message=(
                f"Refused: '{request.summary}' needs approval{why} and this is an unattended "
                f"run in '{self.mode}' mode, so nobody can give it. Do not retry it; carry on "
                "without it, and say in your final answer what you would have done."
            ),
        )


async def permitted(
    permissions: Permissions,
    approver: Approver,
    call_id: str,
    tool: Tool,
    summary: str,
    check: Check,
    refused: str = REFUSED,
) -> AsyncIterator[Event | str]:
    """Whether ``tool`` may run, as ``check`` says, asking ``approver`` when it must: the
    events on the way, then the refusal (a string, for the model) if it may not; ``refused``
    when the person denies it without a message. The one path of every approval: the
    model's tool calls, the user's own runs, auto-test."""
    if check.verdict == "deny":
        yield check.reason
    elif check.verdict == "ask":
        asked = ApprovalRequested(
            call_id=call_id,
            name=tool.name,
            kind=tool.kind,
            summary=summary,
            reason=check.reason,
            suggestion=check.suggestion.describe() if check.suggestion else None,
        )
        yield asked
        request = ApprovalRequest(**asked.model_dump(exclude={"type"}), arguments=tool.model_dump())
        decision = await approver.decide(request)
        if not decision.allow:
            if decision.remember and check.suggestion is not None:
                deny = check.suggestion.model_copy(update={"action": "deny"})
                if problem := permissions.remember(deny):
                    yield Error(message=problem, fatal=False)
            yield decision.message or refused
        elif (
            decision.remember
            and check.suggestion is not None
            and (problem := permissions.remember(check.suggestion))
        ):
            yield Error(message=problem, fatal=False)


def denied(call_id: str, tool: Tool, summary: str, refusal: str, check: Check) -> PermissionDenial:
    """The record of a refused call: why, and the rule or file involved."""
    return PermissionDenial(
        call_id=call_id,
        tool=tool.name,
        kind=tool.kind,
        summary=summary,
        reason=refusal,
        refusal=check.refusal or "needs_approval",
        rule=check.rule.describe() if check.rule else None,
        suggestion=check.suggestion.describe() if check.suggestion else None,
        path=check.path,
    )
