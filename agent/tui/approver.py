"""The TUI's ``Approver``: a request becomes a pending block on screen, and the decision is
an awaited future the block's keys resolve."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.policy.approval import ApprovalRequest, Decision

Ask = Callable[[ApprovalRequest, "asyncio.Future[Decision]"], None]


class TuiApprover:
    """``ask`` shows the request (it runs on the app's loop, which is the core's loop too);
    a turn cancelled while waiting cancels the future, and the block stops asking."""

    def __init__(self, ask: Ask) -> None:
        self.ask = ask

    async def decide(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.ask(request, future)
        try:
            return await future
        finally:
            if not future.done():
                future.cancel()
