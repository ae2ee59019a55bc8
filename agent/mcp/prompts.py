"""A server's prompts as the user's commands: ``/mcp__SERVER__PROMPT args``.

Every front-end offers them (the TUI's completion and palette, an editor's commands) and
runs them the same way: the text after the command fills the prompt's arguments, the
server renders the prompt, and its messages' text is what the user sends.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.mcp.tools import PREFIX, tool_name
from tools.errors import ToolError

if TYPE_CHECKING:
    from mcp_types import GetPromptResult

    from agent.mcp.connection import Connection
    from agent.mcp.servers import McpServers


class PromptProblem(Exception):
    """What is wrong with a prompt command, one sentence the user can act on."""


@dataclass(frozen=True)
class PromptCommand:
    name: str  # mcp__server__prompt, without the slash
    server: str
    prompt: str  # its name on the server
    description: str
    arguments: tuple[tuple[str, bool], ...]  # (name, required)

    @property
    def usage(self) -> str:
        """How the command is typed, e.g. ``/mcp__demo__review <topic>``."""
        if len(self.arguments) == 1:
            return f"/{self.name} <{self.arguments[0][0]}>"
        shown = [f"{name}=…" if required else f"[{name}=…]" for name, required in self.arguments]
        return " ".join([f"/{self.name}", *shown])


def prompt_commands(servers: McpServers) -> list[PromptCommand]:
    """The prompts of every server that is up, as commands."""
    found = []
    for connection in servers.connections.values():
        if connection.state not in ("ready", "restarting"):
            continue
        for prompt in connection.prompts:
            arguments = tuple((a.name, bool(a.required)) for a in prompt.arguments or [])
            description = " ".join((prompt.description or prompt.title or prompt.name).split())
            found.append(
                PromptCommand(
                    name=tool_name(connection.name, prompt.name),
                    server=connection.name,
                    prompt=prompt.name,
                    description=description,
                    arguments=arguments,
                )
            )
    return found


def is_prompt_command(text: str) -> bool:
    return text.startswith(f"/{PREFIX}")


def arguments_for(command: PromptCommand, text: str) -> dict[str, str]:
    """``text`` (what follows the command) as the prompt's arguments: the whole text for a
    prompt of one argument, else ``key=value`` words."""
    text = text.strip()
    names = [name for name, _ in command.arguments]
    required = [name for name, needed in command.arguments if needed]
    if len(names) == 1:
        if not text and required:
            raise PromptProblem(f"{command.usage}: give the {names[0]}.")
        return {names[0]: text} if text else {}
    if not names:
        if text:
            raise PromptProblem(f"/{command.name} takes no arguments.")
        return {}
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    given: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or key not in names:
            raise PromptProblem(f"{command.usage}: give its arguments as name=value.")
        given[key] = value
    if missing := [name for name in required if name not in given]:
        raise PromptProblem(f"{command.usage}: {', '.join(missing)} is missing.")
    return given


async def run_prompt(servers: McpServers, text: str) -> str:
    """The message ``/mcp__SERVER__PROMPT args`` stands for: the prompt's messages' text."""
    name, _, rest = text.removeprefix("/").partition(" ")
    commands = {command.name: command for command in prompt_commands(servers)}
    command = commands.get(name.strip())
    if command is None:
        raise PromptProblem(f"There is no MCP prompt /{name}; its server may not be up yet.")
    arguments = arguments_for(command, rest)
    connection: Connection = servers.connections[command.server]
    try:
        result = await connection.get_prompt(command.prompt, arguments)
    except ToolError as error:
        raise PromptProblem(str(error)) from None
    said = prompt_text(result)
    if not said.strip():
        raise PromptProblem(f"The MCP prompt /{command.name} gave no text to send.")
    return said


def prompt_text(result: GetPromptResult) -> str:
    """The text of a rendered prompt's messages (images and the like are left out)."""
    parts = []
    for message in result.messages:
        content = message.content
        if content.type == "text":
            parts.append(content.text)
        elif content.type == "resource" and hasattr(content.resource, "text"):
            parts.append(content.resource.text)
    return "\n\n".join(parts)
