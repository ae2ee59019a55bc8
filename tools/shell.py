"""The run_command tool."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from agent.events import ToolKindName
from tools.base import Tool, ToolContext, ToolError, ToolResult
from tools.limits import limited
from tools.process import Outcome, run_process, run_shell
from tools.sandbox import denial_hint
from tools.sandbox_view import workspace_secrets


class RunCommand(Tool):
    """Run a shell command (bash) in the workspace root and get its exit code and output
    (stdout and stderr together). Use it to run tests, linters, builds and git queries.
    Commands run in a sandbox: the workspace is writable, its .git and everything outside
    it are read-only, and there is no network unless the user allowed it. Nothing reads
    stdin, so avoid interactive programs; long outputs are cut in the middle. Only if a
    command truly needs more than the sandbox allows, set outside_sandbox with a
    justification: the user must approve that every time."""

    name: ClassVar[str] = "run_command"
    kind: ClassVar[ToolKindName] = "execute"

    command: str = Field(description="The command line, run with bash -c.")
    timeout: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Seconds before it is killed; at most, and by default, the user's limit.",
    )
    outside_sandbox: bool = Field(
        False, description="Run without the sandbox; needs the user's approval every time."
    )
    justification: str | None = Field(
        None, description="Why the command must run outside the sandbox (shown to the user)."
    )

    def summary(self) -> str:
        return f"$ {self.command}" + (" (outside the sandbox)" if self.outside_sandbox else "")

    def subject(self) -> str:
        return self.command

    async def run(self, ctx: ToolContext) -> ToolResult:
        if not self.command.strip():
            raise ToolError("The command is empty.")
        # The model may shorten the user's command_timeout, never lengthen it.
        timeout = min(self.timeout or ctx.command_timeout, ctx.command_timeout)
        outcome = await execute(ctx, self.command, timeout, outside=self.outside_sandbox)
        parts = [outcome.output.rstrip("\n") or "(no output)"]
        if outcome.truncated and outcome.log_path is not None:
            parts.append(f"[output cut; the log (first and last 2 MB) is in {outcome.log_path}]")
        elif outcome.truncated:
            parts.append(f"[output cut; no full log was kept: {outcome.log_problem}]")
        if outcome.timed_out:
            parts.append(
                f"[timed out after {timeout:g} s; the command and its children were killed]"
            )
            summary = f"timed out after {timeout:g} s"
        else:
            parts.append(f"[exit code {outcome.exit_code}]")
            summary = f"exit {outcome.exit_code} in {outcome.seconds:.1f} s"
        sandboxed = ctx.sandbox is not None and ctx.sandbox.active and not self.outside_sandbox
        hint = denial_hint(outcome.output) if sandboxed and outcome.exit_code != 0 else None
        if hint:
            parts.append(
                f"[This may have been blocked by the sandbox: {hint}. Work within it if you "
                "can; if the task truly needs more, run the command again with "
                "outside_sandbox=true and a justification, which the user must approve.]"
            )
        failed = outcome.exit_code != 0
        masked = workspace_secrets(ctx.workspace, ctx.reveal) if sandboxed and failed else []
        if masked:
            shown = ", ".join(masked[:5]) + (f" and {len(masked) - 5} more" * (len(masked) > 5))
            parts.append(
                f"[Files that usually hold secrets are empty to commands: {shown}. If the "
                "command needs one, tell the user; they can allow it with "
                "'shipmate rules add --read PATTERN'.]"
            )
        return ToolResult(
            output="\n".join(parts),
            is_error=outcome.timed_out or outcome.exit_code != 0,
            summary=summary,
        )


async def execute(
    ctx: ToolContext,
    command: str,
    timeout: float,
    *,
    outside: bool = False,
    writable: tuple[Path, ...] = (),
) -> Outcome:
    """Run ``command`` as the tools do: in the sandbox with the limits (``outside`` skips it,
    when approved), output capped and the full log kept in the session's logs; ``writable``:
    Shipmate's own folders the command may write too."""
    if ctx.sandbox is None:
        return await run_shell(command, ctx.workspace, timeout, ctx.output_limit, log_dir(ctx))
    argv, env = ctx.sandbox.prepare(command, outside, ctx.reveal, writable)
    with limited(argv, env, ctx.sandbox.limits) as wrapped:
        return await run_process(
            wrapped, ctx.workspace, env, timeout, ctx.output_limit, log_dir(ctx)
        )


def log_dir(ctx: ToolContext) -> Path:
    """Where the logs of commands' whole output go."""
    return ctx.log_dir or Path(tempfile.gettempdir()) / "shipmate-logs"
