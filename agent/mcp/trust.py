"""Which of a repository's own MCP servers the user let start.

A repository's stdio server is a program of someone else's choosing that would run as the
user, outside the sandbox. So it starts only once the user trusted it for this project
(``shipmate mcp trust NAME``, or the app asks), and the trust is kept in the user's config
folder, never in the repository, keyed by the server's whole launch (command, arguments,
environment, URL): a changed command is a new server, and asks again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ValidationError

from agent.mcp.config import McpServer
from agent.storage import os_reason, replace_file


class TrustFile(BaseModel):
    workspace: str
    servers: dict[str, str] = {}  # name → the identity of the launch trusted


class TrustNotSaved(Exception):
    """The trust file could not be written; the message says where and why."""


def trust_path(workspace: Path) -> Path:
    digest = hashlib.sha256(str(workspace).encode()).hexdigest()[:12]
    folder = platformdirs.user_config_path("shipmate") / "projects"
    return folder / f"{workspace.name}-{digest}.mcp-trust.json"


class TrustBook:
    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.path = trust_path(workspace)
        self.servers = self._load()

    def _load(self) -> dict[str, str]:
        """A file that cannot be read trusts nothing: the servers ask again."""
        try:
            text = self.path.read_text(encoding="utf-8")
            return TrustFile.model_validate(json.loads(text)).servers
        except (OSError, ValueError, ValidationError):
            return {}

    def trusts(self, name: str, server: McpServer) -> bool:
        return self.servers.get(name) == server.identity()

    def trust(self, name: str, server: McpServer) -> None:
        self._save({**self.servers, name: server.identity()})

    def forget(self, name: str) -> bool:
        if name not in self.servers:
            return False
        self._save({key: value for key, value in self.servers.items() if key != name})
        return True

    def _save(self, servers: dict[str, str]) -> None:
        data = TrustFile(workspace=str(self.workspace), servers=servers).model_dump_json(indent=2)
        try:
            replace_file(self.path, data + "\n")
        except OSError as error:
            raise TrustNotSaved(f"{self.path} cannot be written ({os_reason(error)})") from None
        self.servers = servers
