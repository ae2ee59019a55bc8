"""The update_plan tool: the visible todo list."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agent.events import PlanItem, ToolKindName
from tools.base import Tool, ToolContext, ToolError, ToolResult

MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


class UpdatePlan(Tool):
    """Show the user your plan as a short todo list, and keep it current: send the whole
    list each time, with at most one step in_progress. Use it for tasks with several steps;
    skip it for one-step tasks."""

    name: ClassVar[str] = "update_plan"
    kind: ClassVar[ToolKindName] = "plan"

    items: list[PlanItem] = Field(description="Every step of the plan, in order.")

    def summary(self) -> str:
        done = sum(item.status == "completed" for item in self.items)
        return f"plan: {done}/{len(self.items)} done"

    async def run(self, ctx: ToolContext) -> ToolResult:
        if sum(item.status == "in_progress" for item in self.items) > 1:
            raise ToolError("Only one step can be in_progress at a time.")
        lines = [f"{MARKS[item.status]} {item.step}" for item in self.items]
        return ToolResult(
            output="Plan updated:\n" + "\n".join(lines), summary=self.summary(), plan=self.items
        )
