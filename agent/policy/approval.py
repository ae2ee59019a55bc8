"""Asking a person: the request a front-end shows, and the decision it sends back."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from agent.config import ApprovalMode
from agent.events import ToolKindName


class ApprovalRequest(BaseModel):
    call_id: str
    name: str
    kind: ToolKindName
    summary: str
    reason: str = ""
    suggestion: str | None = None
    arguments: dict[str, Any] = {}


class Decision(BaseModel):
    """allow once, allow always (``remember``: save the suggested rule), deny, or deny with
    a ``message`` that tells the model what to do instead."""

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
