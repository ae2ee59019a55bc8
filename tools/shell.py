"""The run_command tool."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from agent.events import ToolKindName
from tools.base import Tool, ToolContext, ToolError, ToolResult
from tools.process import run_shell


class RunCommand(Tool):
    """Run a shell command (bash) in the workspace root and get its exit code and output
    (stdout and stderr together). Use it to run tests, linters, builds and git queries.
    Nothing reads stdin, so avoid interactive programs; long outputs are cut in the middle."""

    name: ClassVar[str] = "run_command"
    kind: ClassVar[ToolKindName] = "execute"

    command: str = Field(description="The command line, run with bash -c.")
    timeout: float | None = Field(
        None, gt=0, le=3600, description="Seconds before it is killed (default from settings)."
    )

    def summary(self) -> str:
        return f"$ {self.command}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        if not self.command.strip():
            raise ToolError("The command is empty.")
        timeout = self.timeout or ctx.command_timeout
        log_dir = ctx.log_dir or Path(tempfile.gettempdir()) / "shipmate-logs"
        outcome = await run_shell(self.command, ctx.workspace, timeout, ctx.output_limit, log_dir)
        parts = [outcome.output.rstrip("\n") or "(no output)"]
        if outcome.truncated:
            parts.append(f"[output cut; the full log is in {outcome.log_path}]")
        if outcome.timed_out:
            parts.append(
                f"[timed out after {timeout:g} s; the command and its children were killed]"
            )
            summary = f"timed out after {timeout:g} s"
        else:
            parts.append(f"[exit code {outcome.exit_code}]")
            summary = f"exit {outcome.exit_code} in {outcome.seconds:.1f} s"
        return ToolResult(
            output="\n".join(parts),
            is_error=outcome.timed_out or outcome.exit_code != 0,
            summary=summary,
        )
