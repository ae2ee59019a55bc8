"""Approvals asked of the person in the editor, with ``session/request_permission``."""

from __future__ import annotations

from acp import Client, text_block, tool_content
from acp.schema import AllowedOutcome, PermissionOption, ToolCallUpdate

from agent.frontends.acp.updates import tool_kind
from agent.policy.approval import ApprovalRequest, Decision

ALLOW = "allow"
ALLOW_ALWAYS = "allow-always"
REJECT = "reject"
REJECT_ALWAYS = "reject-always"


class EditorApprover:
    """The ``Approver`` of an ACP session. "Always" is offered when there is a rule to save
    (the check's suggestion): allow saves it, reject saves it as a deny rule."""

    def __init__(self, client: Client, session_id: str) -> None:
        self.client = client
        self.session_id = session_id

    async def decide(self, request: ApprovalRequest) -> Decision:
        options = [PermissionOption(option_id=ALLOW, name="Allow once", kind="allow_once")]
        if request.suggestion:
            rule = request.suggestion.removeprefix("allow ")
            options.append(
                PermissionOption(
                    option_id=ALLOW_ALWAYS, name=f"Always allow {rule}", kind="allow_always"
                )
            )
        options.append(PermissionOption(option_id=REJECT, name="Reject", kind="reject_once"))
        if request.suggestion:
            options.append(
                PermissionOption(
                    option_id=REJECT_ALWAYS, name=f"Always reject {rule}", kind="reject_always"
                )
            )
        reason = [tool_content(text_block(request.reason))] if request.reason else None
        call = ToolCallUpdate(
            tool_call_id=request.call_id,
            title=request.summary,
            kind=tool_kind(request.name, request.kind),
            status="pending",
            content=reason,
        )
        answer = await self.client.request_permission(
            session_id=self.session_id, tool_call=call, options=options
        )
        outcome = answer.outcome
        chosen = outcome.option_id if isinstance(outcome, AllowedOutcome) else REJECT
        return Decision(
            allow=chosen in (ALLOW, ALLOW_ALWAYS),
            remember=chosen in (ALLOW_ALWAYS, REJECT_ALWAYS),
        )
