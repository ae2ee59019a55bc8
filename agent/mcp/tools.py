"""A server's tools as Shipmate tools: ``mcp__<server>__<tool>``, with the server's schema
(fixed up where providers would reject it) and description, read or execute by the
server's annotations, and results capped as command output is.

The server, its schemas and its results are untrusted: a schema that cannot be fixed
leaves the tool out (with a notice), and what the tool returns is text for the model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, Field, model_serializer, model_validator

from agent.events import ToolKindName
from agent.mcp.config import Approval
from tools.base import Image, Tool, ToolContext, ToolResult
from tools.names import safe_text

if TYPE_CHECKING:
    from mcp_types import CallToolResult
    from mcp_types import Tool as RemoteTool

    from agent.mcp.connection import Connection

PREFIX = "mcp__"
MAX_NAME = 64  # what model providers accept for a function name
MAX_DESCRIPTION = 1_024
MAX_SCHEMA = 64_000  # characters of JSON; a larger one would crowd every request
MAX_DEPTH = 24
JSON_TYPES = frozenset(("string", "number", "integer", "boolean", "object", "array", "null"))
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_DROPPED = ("$schema", "$id", "$comment", "$anchor", "$dynamicAnchor")
# Images a result may show the model: formats the providers take, a few, not too large.
IMAGE_TYPES = frozenset(("image/png", "image/jpeg", "image/gif", "image/webp"))
MAX_IMAGE_BYTES = 3_750_000
MAX_IMAGES = 4


class SchemaProblem(Exception):
    """Why a tool's schema cannot be sent; the tool is left out."""


class McpTool(Tool):
    """A server's tool; subclasses are made per tool by ``tool_class``."""

    model_config = ConfigDict(extra="forbid")

    server: ClassVar[str]
    remote: ClassVar[str]  # the tool's name on its server
    destructive: ClassVar[bool] = False
    approval: ClassVar[Approval] = "default"
    description: ClassVar[str] = ""
    schema: ClassVar[dict[str, Any]] = {}
    connection: ClassVar[Connection]

    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _as_arguments(cls, data: Any) -> Any:
        """The model's arguments are the server's to judge; a plain JSON check first gives
        the model a sentence it can act on without a round trip."""
        if not isinstance(data, dict):
            raise ValueError("the arguments must be a JSON object")
        if problem := _invalid(data, cls.schema):
            raise ValueError(problem)
        return {"arguments": data}

    @model_serializer
    def _plain(self) -> dict[str, Any]:
        return self.arguments

    @classmethod
    def spec(cls) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": cls.name,
                "description": cls.description,
                "parameters": cls.schema,
            },
        }

    def summary(self) -> str:
        shown = ", ".join(f"{key}={_short(value)}" for key, value in self.arguments.items())
        return f"{self.server} › {self.remote}" + (f" {shown}" if shown else "")

    def subject(self) -> str | None:
        return None

    async def run(self, ctx: ToolContext) -> ToolResult:
        result = await self.connection.call_tool(self.remote, self.arguments)
        return as_result(result, ctx, self.name)


def tool_name(server: str, remote: str) -> str:
    """``mcp__<server>__<tool>``, within the length and characters providers accept."""
    name = f"{PREFIX}{server}__{_UNSAFE.sub('_', remote)}"
    if len(name) <= MAX_NAME and name == f"{PREFIX}{server}__{remote}":
        return name
    digest = hashlib.sha256(remote.encode()).hexdigest()[:6]
    return f"{name[: MAX_NAME - 7]}_{digest}"


def tool_class(connection: Connection, remote: RemoteTool) -> type[McpTool]:
    """The Shipmate tool for one of ``connection``'s tools; SchemaProblem if it cannot be
    offered to a model."""
    declared = connection.declared
    annotations = remote.annotations
    read_only = bool(annotations and annotations.read_only_hint)
    destructive = bool(annotations and annotations.destructive_hint and not read_only)
    kind: ToolKindName = "read" if read_only else "execute"
    description = " ".join((remote.description or remote.title or remote.name).split())
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 1] + "…"
    attributes = {
        "name": tool_name(declared.name, remote.name),
        "kind": kind,
        "server": declared.name,
        "remote": remote.name,
        "destructive": destructive,
        "approval": declared.server.approval,
        "description": f"(MCP server {declared.name}) {description}",
        "schema": fitted(remote.input_schema),
        "connection": connection,
        "__module__": __name__,
    }
    annotations_of = {key: ClassVar for key in attributes if not key.startswith("__")}
    return type(  # a class per tool, as the built-in tools are
        f"Mcp_{declared.name}_{remote.name}",
        (McpTool,),
        {**attributes, "__annotations__": annotations_of},
    )


def fitted(schema: Any) -> dict[str, Any]:
    """The server's input schema as providers take it: an object at the top, references
    inlined, keywords they reject dropped, unknown types loosened, arrays with items."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    fixed = _fit(schema, definitions, 0)
    fixed.pop("$defs", None)
    fixed.pop("definitions", None)
    if fixed.get("type", "object") != "object":
        raise SchemaProblem(f"its arguments are a {fixed['type']}, not an object")
    fixed["type"] = "object"
    if not isinstance(fixed.get("properties"), dict):
        fixed["properties"] = {}
    if len(json.dumps(fixed)) > MAX_SCHEMA:
        raise SchemaProblem("its schema is too large to send with every request")
    return fixed


def _fit(node: Any, definitions: dict[str, Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SchemaProblem("its schema nests too deep (or refers to itself)")
    if isinstance(node, list):
        return [_fit(item, definitions, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(ref := node.get("$ref"), str):
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith(("#/$defs/", "#/definitions/")) or name not in definitions:
            raise SchemaProblem(f"its schema refers to {ref!r}, which it does not define")
        return _fit(definitions[name], definitions, depth + 1)
    fixed = {
        key: _fit(value, definitions, depth + 1)
        for key, value in node.items()
        if key not in _DROPPED and key != "title"
    }
    kind = fixed.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if kind is not None and not all(isinstance(k, str) and k in JSON_TYPES for k in kinds):
        del fixed["type"]  # an odd type ("date", 3): any value, the server checks it
    elif "array" in kinds and not isinstance(fixed.get("items"), (dict, bool)):
        fixed["items"] = {}
    if "properties" in fixed and not isinstance(fixed["properties"], dict):
        fixed["properties"] = {}
    if "required" in fixed and not (
        isinstance(fixed["required"], list) and all(isinstance(r, str) for r in fixed["required"])
    ):
        del fixed["required"]
    return fixed


def _invalid(arguments: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """What is wrong with ``arguments`` by ``schema``, if the check can tell."""
    import jsonschema

    try:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(arguments)
        )
    except Exception:  # a schema the validator cannot use: the server checks instead
        return None
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def as_result(result: CallToolResult, ctx: ToolContext, name: str) -> ToolResult:
    """The model's view of a result: text, capped; images kept for a model that takes
    them (a few, not too large), and a line saying what each other part was."""
    images = _images(result.content)
    parts = [_part(block, block in images) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, indent=1))
    text = safe_text("\n".join(part for part in parts if part)) or "(no output)"
    shown = capped(text, ctx, name)
    if result.is_error:
        first = text.splitlines()[0][:200] if text.strip() else "failed"
        return ToolResult(output=f"Error: {shown}", is_error=True, summary=first)
    lines = text.count("\n") + 1
    return ToolResult(
        output=shown,
        summary=f"{lines} line{'s' if lines != 1 else ''}",
        images=[Image(mime=block.mime_type, data=block.data) for block in images],
    )


def _images(blocks: list[Any]) -> list[Any]:
    """The image parts a model may be shown: common formats, within the limits."""
    kept: list[Any] = []
    for block in blocks:
        if (
            getattr(block, "type", "") == "image"
            and block.mime_type in IMAGE_TYPES
            and _decoded_size(block.data) <= MAX_IMAGE_BYTES
            and len(kept) < MAX_IMAGES
        ):
            kept.append(block)
    return kept


def _part(block: Any, attached: bool = False) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        size = f"{_decoded_size(block.data):,} bytes"
        return f"[{kind}: {block.mime_type}, {size}{'' if attached else ', not shown'}]"
    if kind == "resource_link":
        return f"[resource: {block.uri} ({block.name})]"
    if kind == "resource":
        inner = block.resource
        if getattr(inner, "text", None) is not None:
            return f"[resource {inner.uri}]\n{inner.text}"
        return f"[resource {inner.uri}: {_decoded_size(inner.blob):,} bytes of binary data]"
    return f"[{kind or 'unknown'} content, not shown]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


def capped(text: str, ctx: ToolContext, name: str) -> str:
    """Head and tail within the output limit, the whole text saved in the session's logs."""
    limit = ctx.output_limit
    if len(text) <= limit:
        return text
    saved = _save(text, ctx, name)
    where = f"the whole result is in {saved}" if saved else "the whole result was not kept"
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[… {cut:,} characters cut; {where} …]\n{text[-half:]}"


def _save(text: str, ctx: ToolContext, name: str) -> str | None:
    import os

    from agent.storage import private_dir

    if ctx.log_dir is None:
        return None
    try:
        private_dir(ctx.log_dir)
        digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:10]
        path = ctx.log_dir / f"{name}-{digest}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(text)
    except OSError:
        return None
    return str(path)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"
