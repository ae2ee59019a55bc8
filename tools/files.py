"""Reading, listing and writing files."""

from __future__ import annotations

import difflib
from typing import ClassVar

from pydantic import Field

from agent.events import ToolKindName
from tools.base import Tool, ToolContext, ToolError, ToolResult, plural
from tools.listing import glob_matcher, workspace_files
from tools.names import safe_text
from tools.paths import load_text, resolve, save_text
from tools.syntax import introduced_error

MAX_LINE_CHARS = 2000
MAX_OUTPUT_CHARS = 60_000
MAX_DIFF_CHARS = 20_000


class ReadFile(Tool):
    """Read a text file from the workspace. Lines come numbered (number, tab, text); the
    numbers are not part of the file. Long files come in pages: pass offset and limit to read
    the rest. Read a file before editing it."""

    name: ClassVar[str] = "read_file"
    kind: ClassVar[ToolKindName] = "read"

    path: str = Field(description="Path relative to the workspace root.")
    offset: int = Field(1, ge=1, description="First line to show (1-based).")
    limit: int = Field(2000, ge=1, le=5000, description="How many lines to show at most.")

    def files_used(self) -> list[str]:
        return [self.path]

    def summary(self) -> str:
        if self.offset > 1:
            return f"read {self.path} from line {self.offset}"
        return f"read {self.path}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        path = resolve(ctx, self.path)
        file, data = await load_text(ctx, path, self.path)
        ctx.remember(path, data)
        lines = file.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return ToolResult(output=f"{self.path} is empty.", summary="empty file")
        if self.offset > len(lines):
            raise ToolError(
                f"{self.path} has {plural(len(lines), 'line')}; offset {self.offset} is past "
                "the end."
            )
        first = self.offset
        shown: list[str] = []
        size = 0
        for number in range(first, min(len(lines), first + self.limit - 1) + 1):
            line = lines[number - 1]
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + " … [line cut]"
            entry = f"{number:>6}\t{line}"
            if size + len(entry) > MAX_OUTPUT_CHARS and shown:
                break
            shown.append(entry)
            size += len(entry) + 1
        last = first + len(shown) - 1
        if last < len(lines):
            shown.append(
                f"(lines {first}-{last} of {len(lines)}; call again with offset={last + 1} "
                "to read on)"
            )
        return ToolResult(output="\n".join(shown), summary=plural(len(lines), "line"))


class ListFiles(Tool):
    """List files in the workspace, skipping what .gitignore ignores. Filter with a glob:
    'src/**/*.py', '*.{ts,tsx}' (a pattern without '/' matches file names at any depth)."""

    name: ClassVar[str] = "list_files"
    kind: ClassVar[ToolKindName] = "read"

    path: str = Field(".", description="Folder to list, relative to the workspace root.")
    pattern: str | None = Field(None, description="Glob the paths must match.")
    limit: int = Field(500, ge=1, le=5000, description="How many paths to show at most.")

    def summary(self) -> str:
        return f"list {self.path}" + (f" {self.pattern}" if self.pattern else "")

    async def run(self, ctx: ToolContext) -> ToolResult:
        folder = resolve(ctx, self.path)
        if not folder.is_dir():
            raise ToolError(f"{self.path} is not a folder.")
        prefix = "" if folder == ctx.workspace else ctx.relative(folder) + "/"
        paths = [p for p in workspace_files(ctx.workspace) if p.startswith(prefix)]
        if self.pattern:
            matcher = glob_matcher(self.pattern)
            paths = [p for p in paths if matcher.match(p[len(prefix) :])]
        if not paths:
            return ToolResult(output="No files found.", summary="0 files")
        shown = [safe_text(path) for path in paths[: self.limit]]
        if len(paths) > len(shown):
            shown.append(f"({len(paths) - len(shown)} more not shown; narrow with a pattern)")
        return ToolResult(output="\n".join(shown), summary=plural(len(paths), "file"))


class WriteFile(Tool):
    """Create a file, or replace a whole file you have read. For changes to part of a file
    use edit_file instead. Folders are created as needed."""

    name: ClassVar[str] = "write_file"
    kind: ClassVar[ToolKindName] = "edit"

    path: str = Field(description="Path relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")

    def files_used(self) -> list[str]:
        return [self.path]

    def summary(self) -> str:
        return f"write {self.path}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        path = resolve(ctx, self.path, for_write=True)
        if path.is_dir():
            raise ToolError(f"{self.path} is a folder.")
        old_text = ""
        existed = path.exists()
        if existed:
            file, data = await load_text(ctx, path, self.path)
            if path not in ctx.snapshots:
                raise ToolError(
                    f"{self.path} already exists and you have not read it; read it first, or "
                    "use edit_file to change part of it."
                )
            if ctx.changed_since_seen(path, data):
                raise ToolError(
                    f"{self.path} changed on disk since you last read it; read it again first."
                )
            old_text = file.text
            new_data = file.encode(self.content)
        else:
            new_data = self.content.encode("utf-8")
        await save_text(ctx, path, new_data)
        ctx.remember(path, new_data)
        shown = ctx.relative(path)
        ctx.files_changed.add(shown)
        lines = self.content.count("\n") + (0 if self.content.endswith("\n") else 1)
        verb = "Updated" if existed else "Created"
        warning = introduced_error(shown, old_text, self.content)
        output = f"{verb} {shown} ({plural(lines, 'line')})."
        return ToolResult(
            output=output + (f"\n{warning}" if warning else ""),
            summary=f"{verb.lower()} {shown}" + (" (syntax error)" if warning else ""),
            diff=unified_diff(shown, old_text, self.content),
            files_changed=[shown],
        )


def unified_diff(shown: str, old: str, new: str) -> str:
    """A unified diff for people to read; cut when huge."""
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{shown}",
            tofile=f"b/{shown}",
        )
    )
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + "\n… (diff cut)\n"
    return diff
