"""What every tool is made of: an arguments model, a kind, and one async ``run``.

The arguments model's JSON schema is what the model sees, and the class docstring is the
tool's description, so adding a tool means writing one class and listing it in the registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from agent.events import PlanItem, TestsFinished, ToolKindName
from tools.errors import ToolError as ToolError  # where most of the code imports it from
from tools.errors import plural as plural
from tools.executables import protect
from tools.sandbox import Sandbox

if TYPE_CHECKING:
    from agent.index.index import CodeIndex
    from agent.vcs.checkpoints import Recorder


class Image(BaseModel):
    """An image a tool returned (an MCP server's screenshot, a chart): base64 data."""

    mime: str
    data: str


class ToolResult(BaseModel):
    output: str
    is_error: bool = False
    summary: str = ""
    diff: str | None = None
    files_changed: list[str] = []
    plan: list[PlanItem] | None = None
    tests: TestsFinished | None = None  # run_tests: the run, for front-ends
    images: list[Image] = []  # shown to a model that takes images, after the results


class FileAccess(Protocol):
    """Text files as an editor holds them (ACP's client file system): reads see unsaved
    buffers and writes land in them. Paths are real paths the tools already confined to
    the workspace; a failure is a ToolError for the model."""

    async def read(self, path: Path) -> str: ...

    async def write(self, path: Path, text: str) -> None: ...


@dataclass
class ToolContext:
    """Per-run state the tools share: the workspace and what the model has seen of it."""

    workspace: Path
    command_timeout: float = 120.0
    output_limit: int = 30_000
    log_dir: Path | None = None
    sandbox: Sandbox | None = None
    index: CodeIndex | None = None
    snapshots: dict[Path, str] = field(default_factory=dict)
    files_changed: set[str] = field(default_factory=set)
    # Whether a read rule lets commands see a secret file of the workspace (relative path).
    reveal: Callable[[str], bool] | None = None
    # The user's own test command (the test_command setting); None: detect it.
    test_command: str | None = None
    # The session's checkpoints (what the agent changed), and the model's name for commits.
    checkpoints: Recorder | None = None
    model: str = ""
    # Where file tools read and write text: an editor's buffers, or (None) the disk.
    files: FileAccess | None = None

    def __post_init__(self) -> None:
        self.workspace = self.workspace.resolve()
        protect(self.workspace)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.workspace).as_posix() or "."

    def remember(self, path: Path, data: bytes) -> None:
        """Record the content the model last saw, so later edits can detect outside changes."""
        self.snapshots[path] = hashlib.sha256(data).hexdigest()

    def changed_since_seen(self, path: Path, data: bytes) -> bool:
        seen = self.snapshots.get(path)
        return seen is not None and seen != hashlib.sha256(data).hexdigest()


class Tool(BaseModel):
    """Base class; subclasses set ``name`` and ``kind`` and implement ``run``."""

    model_config = ConfigDict(extra="forbid")

    name: ClassVar[str]
    kind: ClassVar[ToolKindName]

    async def run(self, ctx: ToolContext) -> ToolResult:
        raise NotImplementedError

    def bind(self, ctx: ToolContext) -> None:
        """Settle what depends on the workspace before the call is checked: a tool whose
        command line comes from the project (run_tests) must show the one it will run."""

    def subject(self) -> str | None:
        """What permission rules match against: the path or command line, if any."""
        return getattr(self, "path", None)

    def files_used(self) -> list[str]:
        """Files (as the model named them) this call reads or edits: once it succeeded, the
        instructions of their folders (a nested AGENTS.md) reach the model with its result."""
        return []

    def summary(self) -> str:
        """One line for people watching: the tool and its main argument."""
        first = next(iter(self.model_dump().values()), "")
        return f"{self.name} {first}".strip()

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """The function definition sent to the model."""
        schema = cls.model_json_schema()
        schema.pop("description", None)
        schema = _inline_refs(schema, schema.pop("$defs", {}))
        _drop_titles(schema)
        return {
            "type": "function",
            "function": {
                "name": cls.name,
                "description": " ".join((cls.__doc__ or "").split()),
                "parameters": schema,
            },
        }


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    """Replace ``$ref``s with their definitions; some providers reject ``$defs``."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline_refs(value, defs) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline_refs(item, defs) for item in schema]
    return schema


def _drop_titles(schema: Any) -> None:
    """Pydantic adds a title to every property; the model gains nothing from them."""
    if isinstance(schema, dict):
        schema.pop("title", None)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for prop in value.values():
                    _drop_titles(prop)
            else:
                _drop_titles(value)
    elif isinstance(schema, list):
        for item in schema:
            _drop_titles(item)
