"""Tools that read the code index: the repo map, where a symbol lives, a file's outline."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from agent.events import ToolKindName
from tools.base import Tool, ToolContext, ToolError, ToolResult, plural
from tools.paths import resolve

if TYPE_CHECKING:
    from agent.index.index import CodeIndex

MAX_OUTLINE = 400
MAX_USES = 60


async def _index(ctx: ToolContext) -> CodeIndex:
    """The index, brought up to date first (edits and commands may have changed files)."""
    if ctx.index is None:
        raise ToolError("The code index is not available in this session; use grep instead.")
    await asyncio.to_thread(ctx.index.refresh)
    return ctx.index


class RepoMap(Tool):
    """Show a map of the repository ranked for a question: the files most relevant to it,
    each with the signatures (and line numbers) of its key classes and functions. Use it to
    find where to start in unfamiliar code; then read_file the files it points to."""

    name: ClassVar[str] = "repo_map"
    kind: ClassVar[ToolKindName] = "read"

    query: str = Field("", description="What you are looking for, in words and identifiers.")
    focus: list[str] = Field(
        [], description="Files you are working on; their neighbours rank higher."
    )
    tokens: int = Field(2048, ge=256, le=16_000, description="Size budget of the map.")

    def summary(self) -> str:
        return f"repo map: {self.query}" if self.query else "repo map"

    async def run(self, ctx: ToolContext) -> ToolResult:
        index = await _index(ctx)
        focus = [ctx.relative(resolve(ctx, path)) for path in self.focus]
        text = await asyncio.to_thread(index.repo_map, self.query, focus, self.tokens)
        from agent.index.cli import focus_problem

        # A focus file the index does not have is said, not silently ranked without.
        notes = "".join(
            f"Note: focus {path}: {focus_problem(index, path)}\n"
            for path in focus
            if path not in index.model.files
        )
        if not text:
            if self.query and index.model.files:
                return ToolResult(
                    output=f"{notes}No indexed file matches '{self.query}'; try other words, "
                    "or grep.",
                    summary="no match",
                )
            return ToolResult(output=f"{notes}The index has no files.", summary="empty")
        return ToolResult(output=notes + text, summary=plural(text.count("\n") + 1, "line"))


class FindSymbol(Tool):
    """Find where a class, function, method, type or constant is defined (file:line and
    its signature) and where it is used. Exact name, case-sensitive, without arguments."""

    name: ClassVar[str] = "find_symbol"
    kind: ClassVar[ToolKindName] = "read"

    symbol: str = Field(description="The name, e.g. parse_config or UserService.")

    def summary(self) -> str:
        return f"find {self.symbol}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        index = await _index(ctx)
        from agent.index.cli import symbol_report

        symbol = self.symbol.strip()
        definitions = index.definitions(symbol)
        uses = await asyncio.to_thread(index.uses, symbol, MAX_USES)
        if not definitions and not uses.lines:
            return ToolResult(
                output=f"No definition or use of '{symbol}' in the index; try grep.",
                summary="not found",
            )
        output = "\n".join(symbol_report(symbol, definitions, uses))
        summary = f"{plural(len(definitions), 'definition')}, {plural(uses.total, 'use')}"
        return ToolResult(output=output, summary=summary)


class FileOutline(Tool):
    """List a file's definitions (classes, functions, methods, with nesting and line
    numbers) without reading its bodies: a quick way to see the shape of a long file."""

    name: ClassVar[str] = "file_outline"
    kind: ClassVar[ToolKindName] = "read"

    path: str = Field(description="Path relative to the workspace root.")

    def files_used(self) -> list[str]:
        return [self.path]

    def summary(self) -> str:
        return f"outline {self.path}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        index = await _index(ctx)
        real = resolve(ctx, self.path)
        relative = ctx.relative(real)
        defs = index.outline(relative)
        if defs is None or (not defs and index.tags(relative) is None):  # skipped: no tags
            raise ToolError(
                f"{self.path} is not in the index (missing, ignored, binary or over 1 MB)."
            )
        if not defs:
            return ToolResult(
                output=f"{self.path} has no definitions the index recognises.", summary="empty"
            )
        from agent.index.repomap import definition_lines

        lines = definition_lines(defs, list(range(min(len(defs), MAX_OUTLINE))))
        if len(defs) > MAX_OUTLINE:
            lines.append(f"… {len(defs) - MAX_OUTLINE} more")
        return ToolResult(output="\n".join(lines), summary=plural(len(defs), "definition"))
