"""The sandbox a session gets, from the settings and from what works on this machine."""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings
from tools.limits import Limits
from tools.limits import describe as describe_limits
from tools.sandbox import Sandbox, SandboxSettings, find_bubblewrap


def sandbox_for(settings: Settings, workspace: Path) -> Sandbox:
    """The sandbox the settings ask for, with bubblewrap if it works on this machine."""
    bubblewrap, problem = (
        (None, "disabled") if settings.dangerously_no_sandbox else find_bubblewrap()
    )
    return Sandbox(
        SandboxSettings(
            workspace.resolve(),
            allow_network=settings.allow_network,
            pass_env=tuple(settings.pass_env),
            home_allow=tuple(settings.sandbox.home_allow),
        ),
        bubblewrap,
        Limits(settings.command_memory_mb, settings.command_max_processes),
        problem=problem,
    )


def describe_sandbox(sandbox: Sandbox) -> str:
    if not sandbox.active:
        return f"none ({sandbox.problem})"
    network = "network on" if sandbox.settings.allow_network else "network off"
    return f"bubblewrap, {network}, limits: {describe_limits()}"
