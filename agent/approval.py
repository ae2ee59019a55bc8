"""Who decides whether a tool call may run: the mode's policy first, then an Approver."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel

from agent.config import ApprovalMode
from agent.events import ToolKindName

Verdict = Literal["allow", "deny", "ask"]

# What each mode does with each kind of tool, before anyone is asked.
POLICY: dict[ApprovalMode, dict[ToolKindName, Verdict]] = {
    "read-only": {"read": "allow", "plan": "allow", "edit": "deny", "execute": "deny"},
    "ask": {"read": "allow", "plan": "allow", "edit": "ask", "execute": "ask"},
    "auto-edit": {"read": "allow", "plan": "allow", "edit": "allow", "execute": "ask"},
    "full-auto": {"read": "allow", "plan": "allow", "edit": "allow", "execute": "allow"},
}

READ_ONLY_REFUSAL = (
    "Refused: Shipmate is in read-only mode, so files cannot be edited and commands cannot "
    "run. Do not retry; describe the change you propose in your answer instead."
)


class ApprovalRequest(BaseModel):
    call_id: str
    tool: str
    kind: ToolKindName
    summary: str
    arguments: dict[str, Any] = {}


class Decision(BaseModel):
    allow: bool
    message: str = ""


class Approver(Protocol):
    async def decide(self, request: ApprovalRequest) -> Decision: ...


def verdict(mode: ApprovalMode, kind: ToolKindName) -> Verdict:
    return POLICY[mode][kind]


class HeadlessApprover:
    """For one-shot runs: nobody is there to answer, so whatever would ask is refused."""

    def __init__(self, mode: ApprovalMode) -> None:
        self.mode = mode

    async def decide(self, request: ApprovalRequest) -> Decision:
        return Decision(
            allow=False,
            message=(
                f"Refused: {request.summary!r} needs approval and this is an unattended run "
                f"in '{self.mode}' mode, so nobody can give it. Do not retry it; carry on "
                "without it, and say in your final answer what you would have done."
            ),
        )
