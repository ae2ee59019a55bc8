"""``shipmate mcp list | add | remove | test | trust | untrust``.

Nothing here imports the SDK but ``test``, which starts the server; nothing imports litellm.
Exit codes as everywhere: 0 done, 1 failed, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import ConfigError, Settings, data_dir, load_settings, user_config_file
from agent.mcp.config import Declared, McpServer, name_problem, project_servers
from agent.mcp.trust import TrustBook, TrustNotSaved
from agent.mcp.user_file import add_server, remove_server

if TYPE_CHECKING:
    from agent.mcp.check import Checked

OK, FAILED, USAGE = 0, 1, 2


class Refused(Exception):
    """What the user must change, in one sentence, and the exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def mcp_command(args: argparse.Namespace, workspace: Path) -> int:
    try:
        action = args.action or "list"
        if action in ("add", "remove"):
            return _add(args) if action == "add" else _remove(args.name)
        settings = load_settings(workspace)
        if action == "list":
            return _list(settings, workspace)
        if action == "test":
            return _test(settings, workspace, args.name)
        if action == "trust":
            return _trust(settings, workspace, args.name, args.yes)
        return _untrust(workspace, args.name)
    except ConfigError as error:
        print(f"shipmate: {error}", file=sys.stderr)
        return USAGE
    except Refused as error:
        print(f"shipmate: {error}", file=sys.stderr)
        return error.code


def server_from_flags(args: argparse.Namespace) -> McpServer:
    """The server ``mcp add`` describes; Refused names the flag at fault."""
    if bool(args.command_line) == bool(args.url):
        raise Refused(
            "Give the server's command after -- (shipmate mcp add NAME -- npx -y SERVER) "
            "or its --url, not both."
        )
    if args.command_line and (args.header or args.transport):
        raise Refused("--header and --transport are for a --url server, not a command.")
    values: dict[str, object] = {
        "env": _pairs(args.env, "=", "--env", "NAME=VALUE"),
        "headers": _pairs(args.header, ":", "--header", "'Name: value'"),
        "enabled": not args.disabled,
        "approval": args.server_approval,
    }
    if args.command_line:
        values |= {"command": args.command_line[0], "args": args.command_line[1:]}
    else:
        values |= {"url": args.url, "transport": args.transport}
    if args.timeout is not None:
        values["timeout"] = args.timeout
    if args.tool:
        values["tools"] = args.tool
    from pydantic import ValidationError

    try:
        return McpServer.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise Refused(f"{where} {message}.".strip()) from None


def _pairs(items: list[str], separator: str, flag: str, form: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, found, value = item.partition(separator)
        if not found or not key.strip():
            raise Refused(f"{flag} {item!r} should be {form}.")
        pairs[key.strip()] = value.strip() if separator == ":" else value
    return pairs


def _add(args: argparse.Namespace) -> int:
    _check_name(args.name)
    server = server_from_flags(args)
    path = add_server(args.name, server, replace=args.replace)
    print(f"Added MCP server '{args.name}' to {path}: {server.shown()}")
    if not server.enabled:
        print("It is disabled: set enabled = true there to start it with every session.")
    print(f"Check it with: shipmate mcp test {args.name}")
    return OK


def _remove(name: str) -> int:
    _check_name(name)
    path = user_config_file()
    if not remove_server(name, path):
        raise Refused(f"{path} has no MCP server '{name}'; 'shipmate mcp list' shows them.")
    print(f"Removed MCP server '{name}' from {path}.")
    return OK


def _check_name(name: str) -> None:
    if problem := name_problem(name):
        raise Refused(problem[0].upper() + problem[1:] + ".")


def _list(settings: Settings, workspace: Path) -> int:
    user = _user_servers(settings)
    project, problems = project_servers(workspace)
    trust = TrustBook(workspace)
    if not user and not project:
        print("No MCP servers. Add one with: shipmate mcp add NAME -- COMMAND ARGS…")
    for item in user:
        state = "enabled" if item.server.enabled else "disabled"
        print(f"{item.name}  (yours, {item.where}; {state})")
        print(f"  {_reached(item.server)}")
    taken = {item.name for item in user}
    for item in project:
        if item.name in taken:
            state = "not used: yours of that name is"
        elif trust.trusts(item.name, item.server):
            state = "trusted" + ("" if item.server.enabled else ", disabled")
        else:
            state = f"waiting for trust: shipmate mcp trust {item.name}"
        print(f"{item.name}  (this repository's, {item.where}; {state})")
        print(f"  {_reached(item.server)}")
    for problem in problems:
        print(f"Warning: {problem}", file=sys.stderr)
    return OK


def _reached(server: McpServer) -> str:
    return f"{'command' if server.kind == 'stdio' else 'url'}: {server.shown()}"


def _user_servers(settings: Settings) -> list[Declared]:
    where = str(user_config_file())
    return [
        Declared(name=name, server=server, source="user", where=where)
        for name, server in settings.mcp.servers.items()
    ]


def _find(settings: Settings, workspace: Path, name: str) -> Declared:
    """The server ``name`` as a session would take it: the user's before the repository's."""
    for item in _user_servers(settings):
        if item.name == name:
            return item
    for item in project_servers(workspace)[0]:
        if item.name == name:
            return item
    raise Refused(f"There is no MCP server '{name}' here; 'shipmate mcp list' shows them.")


def _test(settings: Settings, workspace: Path, name: str) -> int:
    from agent.mcp.check import check

    item = _find(settings, workspace, name)
    if item.source == "project" and not TrustBook(workspace).trusts(item.name, item.server):
        raise Refused(
            f"MCP server '{name}' is this repository's and not trusted yet: check it with "
            f"shipmate mcp trust {name}, then test it."
        )
    print(f"Starting MCP server '{name}': {item.server.shown()}", flush=True)
    timeout = settings.mcp_startup_timeout
    log_dir = data_dir() / "logs" / "mcp"
    [found] = asyncio.run(check([item], workspace, log_dir, timeout))
    if found.state != "ready":
        for line in found.log:
            print(f"  server said: {line}", file=sys.stderr)
        if found.state == "failed":
            problem = found.problem.removeprefix("failed: ")
            raise Refused(f"MCP server '{name}' could not start: {problem}.", FAILED)
        raise Refused(
            f"MCP server '{name}' did not start within {timeout:g} s "
            "(mcp_startup_timeout in your config raises it).",
            FAILED,
        )
    _show(found)
    if not item.server.enabled:
        print(f"It is disabled: sessions do not start it (enabled = false in {item.where}).")
    print("Stopped it.")
    return OK


def _show(found: Checked) -> None:
    print(f"Ready in {found.seconds:.1f} s.")
    print(
        f"Tools: {len(found.offered)} offered to the model as mcp__{found.declared.name}__TOOL, "
        f"~{found.tokens:,} tokens with every request (description and schema)"
    )
    width = max((len(tool.name) for tool in found.tools), default=0)
    for tool in found.tools:
        if tool.left_out:
            print(f"  {tool.name:<{width}}  {tool.kind:<11}  left out: {tool.left_out}")
            continue
        about = tool.description if len(tool.description) <= 60 else tool.description[:59] + "…"
        print(f"  {tool.name:<{width}}  {tool.kind:<11}  {tool.size:>6,} chars  {about}")
    print(f"Prompts: {len(found.prompts)}")
    for prompt in found.prompts:
        arguments = ", ".join(
            argument.name + ("" if argument.required else "?")
            for argument in prompt.arguments or []
        )
        about = " ".join((prompt.description or "").split())
        print(f"  {prompt.name}({arguments})  {len(about):,} chars  {about}".rstrip())
    print(f"Resources: {len(found.resources)}")
    for resource in found.resources:
        size = f"{resource.size:,} bytes" if resource.size is not None else "size not given"
        kind = f", {resource.mime_type}" if resource.mime_type else ""
        print(f"  {resource.uri}  {resource.name} ({size}{kind})")


def _trust(settings: Settings, workspace: Path, name: str, yes: bool) -> int:
    item = _find(settings, workspace, name)
    if item.source != "project":
        raise Refused(
            f"MCP server '{name}' is your own (in {item.where}); only a repository's servers "
            "need your trust."
        )
    book = TrustBook(workspace)
    server = item.server
    if book.trusts(name, server):
        print(f"MCP server '{name}' is already trusted here, as it is declared now.")
        return OK
    print(f"MCP server '{name}' is declared by {item.where}.")
    if server.kind == "stdio":
        print(f"It would run this command as you, outside the sandbox, in {workspace}:")
        print(f"  {server.shown()}")
    else:
        print(f"Sessions would connect to {server.shown()}")
    for key, value in server.env.items():
        shown = value if len(value) <= 60 else value[:59] + "…"
        print(f"  with environment {key}={shown}")
    if server.headers:
        print(f"  with headers: {', '.join(sorted(server.headers))}")
    if not yes:
        if not sys.stdin.isatty():
            raise Refused(
                f"There is no terminal to ask in: check the above, then run "
                f"shipmate mcp trust {name} --yes."
            )
        try:
            answer = input("Trust it for this repository? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Not trusted.")
            return FAILED
    try:
        book.trust(name, server)
    except TrustNotSaved as error:
        raise Refused(f"{error}, so it is not trusted.", FAILED) from None
    print(f"Trusted: sessions here start '{name}'; a change to what it runs or reaches asks again.")
    return OK


def _untrust(workspace: Path, name: str) -> int:
    _check_name(name)
    book = TrustBook(workspace)
    try:
        forgotten = book.forget(name)
    except TrustNotSaved as error:
        raise Refused(f"{error}, so it is still trusted.", FAILED) from None
    if forgotten:
        print(f"MCP server '{name}' is no longer trusted here; sessions will not start it.")
    else:
        print(f"MCP server '{name}' was not trusted here.")
    return OK


def doctor_rows(settings: Settings, workspace: Path) -> list[tuple[str, str]]:
    """``doctor``'s lines on MCP: every server, the enabled and trusted ones started."""
    from agent.mcp.check import check

    user = _user_servers(settings)
    project, problems = project_servers(workspace)
    trust = TrustBook(workspace)
    taken = {item.name for item in user}
    states: dict[str, str] = {}
    listed: list[Declared] = []
    for item in user + project:
        if item.source == "project" and item.name in taken:
            continue  # a session takes the user's own server of that name
        listed.append(item)
        if item.source == "project" and not trust.trusts(item.name, item.server):
            states[item.name] = f"waiting for trust: shipmate mcp trust {item.name}"
        elif not item.server.enabled:
            states[item.name] = "disabled"
    timeout = settings.mcp_startup_timeout
    starting = [item for item in listed if item.name not in states]
    log_dir = data_dir() / "logs" / "mcp"
    for found in asyncio.run(check(starting, workspace, log_dir, timeout)):
        states[found.declared.name] = found.sentence(timeout)
    if not listed:
        summary = "none (add one: shipmate mcp add NAME -- COMMAND ARGS…)"
    else:
        summary = f"{len(listed)}, started together for at most {timeout:g} s"
    rows = [("mcp servers", summary)]
    for item in listed:
        where = "yours" if item.source == "user" else Path(item.where).name
        rows.append(("", f"{item.name} ({where}, {item.server.kind}): {states[item.name]}"))
    rows += [("", problem) for problem in problems]
    return rows
