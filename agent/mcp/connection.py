"""One MCP server of a session: started in the background, restarted once if it dies.

The SDK's client is a context that must be entered and left in one task, so each server
has a task of its own that holds it open (``_run``); tool calls from the session's turns go
through the client it keeps. A server that fails to start, or dies twice, stays down and
says why; its tools then fail with that sentence, which the model can act on.

A stdio server runs as the user, outside the sandbox, with only the environment its
settings name plus a minimal base: no model API key ever reaches it. Its stderr goes to a
log file (never the user's terminal, which the app draws on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from agent import keys
from agent.mcp.config import Declared, expanded
from agent.storage import private_dir, tighten
from tools.errors import ToolError

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource
    from mcp_types import Tool as RemoteTool

State = Literal["starting", "ready", "restarting", "failed", "stopped"]
# What a stdio server inherits besides its own settings' env (the SDK adds HOME, LOGNAME,
# PATH, SHELL, TERM and USER).
BASE_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "XDG_RUNTIME_DIR")
LAUNCHER = Path(__file__).with_name("launcher.py")
RESTARTS = 1
# The SDK's error code for a connection that closed under a request.
CONNECTION_CLOSED = -32000


def quiet_sdk_logs() -> None:
    """The SDK logs a server's faults itself; those would land on the user's terminal."""
    logger = logging.getLogger("mcp")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def lookup(name: str) -> str | None:
    """A variable a server's settings name (``${NAME}``): never a model's API key."""
    if keys.is_key_name(name) or name in keys.DEFAULT_MODEL_KEYS:
        return keys.for_command(name)
    return os.environ.get(name)


class Connection:
    def __init__(self, declared: Declared, workspace: Path, log_dir: Path) -> None:
        self.declared = declared
        self.name = declared.name
        self.workspace = workspace
        self.log_path = log_dir / f"mcp-{declared.name}.log"
        self.state: State = "starting"
        self.problem = ""
        self.notes: list[str] = []  # said once, when the session starts
        self.tools: list[RemoteTool] = []
        self.prompts: list[Prompt] = []
        self.resources: list[Resource] = []
        self.settled = asyncio.Event()  # ready, or failed for good
        self.generation = 0  # counts the starts: a restarted server may list other tools
        self._client: Client | None = None
        self._stop = asyncio.Event()
        self._broken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._restarts = RESTARTS

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"mcp {self.name}")

    async def close(self) -> None:
        """Stop the server (its whole process group) and wait until it is gone."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            if not self._task.done():
                self._task.cancel()
        self.state = "stopped"

    async def _run(self) -> None:
        quiet_sdk_logs()
        while not self._stop.is_set():
            try:
                async with self._session() as client:
                    self._client = client
                    self.generation += 1
                    self.state = "ready"
                    self.problem = ""
                    self.settled.set()
                    await _first(self._stop, self._broken)
            except Exception as error:  # every way a server can fail is a sentence
                self.problem = self._why(error)
            finally:
                self._client = None
            if self._stop.is_set():
                break
            if self._restarts == 0:
                self.state = "failed"
                self.settled.set()
                return
            if self.state == "starting":  # it never came up: no second try
                self.state = "failed"
                self.settled.set()
                return
            self._restarts -= 1
            self.state = "restarting"
            self._broken.clear()
        self.state = "stopped"
        self.settled.set()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Client]:
        """The started server, its tools, prompts and resources listed."""
        import anyio
        from mcp import Client

        server = self.declared.server
        with self._log() as log:
            async with Client(self._transport(log), mode="legacy") as client:
                with anyio.fail_after(server.timeout):
                    await self._discover(client)
                yield client

    def _transport(self, log: IO[str]) -> Any:
        server = self.declared.server
        if server.kind == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            assert server.command is not None
            env, missing = expanded(server.env, lookup)
            self._missing(missing, "env")
            base = {name: os.environ[name] for name in BASE_ENV if name in os.environ}
            path = os.environ.get("PATH", os.defpath)
            program = shutil.which(server.command, path=path)
            if program is None:
                raise ConnectionError(f"the command {server.command!r} was not found")
            argv = [str(LAUNCHER), str(os.getpid()), program, *server.args]
            parameters = StdioServerParameters(
                command=sys.executable, args=["-I", "-S", *argv], env=base | env,
                cwd=self.workspace,
            )  # fmt: skip
            return stdio_client(parameters, errlog=log)
        from mcp.shared._httpx_utils import create_mcp_http_client

        assert server.url is not None
        headers, missing = expanded(server.headers, lookup)
        self._missing(missing, "headers")
        if server.kind == "sse":
            from mcp.client.sse import sse_client

            return sse_client(server.url, headers=headers, timeout=server.timeout)
        from mcp.client.streamable_http import streamable_http_client

        http = create_mcp_http_client(headers=headers)
        return streamable_http_client(server.url, http_client=http)

    def _missing(self, names: list[str], where: str) -> None:
        if names and not any(where in note for note in self.notes):
            shown = ", ".join(sorted(set(names)))
            self.notes.append(
                f"MCP server '{self.name}': {shown} in its {where} is not set (or is a model's "
                "API key, which servers never get), so it was left empty."
            )

    @contextlib.contextmanager
    def _log(self) -> Any:
        private_dir(self.log_path.parent)
        with open(self.log_path, "a", encoding="utf-8", errors="replace") as log:
            tighten(log.fileno())
            yield log

    async def _discover(self, client: Client) -> None:
        capabilities = client.server_capabilities
        self.tools = (await client.list_tools()).tools if capabilities.tools else []
        if capabilities.prompts:
            self.prompts = (await client.list_prompts()).prompts
        if capabilities.resources:
            self.resources = (await client.list_resources()).resources

    def _why(self, error: BaseException) -> str:
        """One sentence: what went wrong, and where to read more."""
        leaf = _leaf(error)
        if isinstance(leaf, TimeoutError):
            what = f"did not answer within {self.declared.server.timeout:g} s"
        elif isinstance(leaf, ConnectionError) and str(leaf):
            what = str(leaf)
        elif getattr(leaf, "code", None) == CONNECTION_CLOSED:
            what = "closed the connection (it exited or crashed)"
        else:
            what = f"failed: {type(leaf).__name__}: {leaf}".rstrip(": ")
        where = f" (its log: {self.log_path})" if self.declared.server.kind == "stdio" else ""
        return f"{what}{where}"

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the server to be ready or to fail."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled.wait(), timeout)
        return self.state == "ready"

    def _client_or_error(self) -> Client:
        if self._client is not None:
            return self._client
        if self.state in ("starting", "restarting"):
            raise ToolError(f"The MCP server '{self.name}' is {self.state}; try again in a moment.")
        raise ToolError(f"The MCP server '{self.name}' is not running: {self.problem}.")

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        return await self._request(f"{tool}", lambda c: c.call_tool(tool, arguments))

    async def get_prompt(self, prompt: str, arguments: dict[str, str]) -> GetPromptResult:
        return await self._request(f"prompt {prompt}", lambda c: c.get_prompt(prompt, arguments))

    async def read_resource(self, uri: str) -> ReadResourceResult:
        return await self._request(f"resource {uri}", lambda c: c.read_resource(uri))

    async def _request(self, what: str, send: Any) -> Any:
        import anyio
        from mcp.shared.exceptions import MCPError

        client = self._client_or_error()
        timeout = self.declared.server.timeout
        try:
            with anyio.fail_after(timeout):
                return await send(client)
        except TimeoutError:
            raise ToolError(
                f"The MCP server '{self.name}' did not answer {what} within {timeout:g} s."
            ) from None
        except MCPError as error:
            if error.code != CONNECTION_CLOSED:
                refused = f"The MCP server '{self.name}' refused {what}: {error.message}"
                raise ToolError(refused) from None
            self._broken.set()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            self._broken.set()
        again = (
            "Shipmate restarts it once; try again in a moment"
            if self._restarts
            else ("it stays down for this session")
        )
        raise ToolError(f"The MCP server '{self.name}' stopped during {what}: {again}.")


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _leaf(error: BaseException) -> BaseException:
    """The first real error inside task-group wrappers."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
