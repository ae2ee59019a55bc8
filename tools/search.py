"""Regex search over the workspace: ripgrep when it is installed, plain Python otherwise."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from agent.events import ToolKindName
from tools import executables
from tools.base import Tool, ToolContext, ToolError, ToolResult, plural
from tools.listing import glob_matcher, workspace_files
from tools.names import safe_text
from tools.paths import open_inside, resolve
from tools.secret_files import is_secret_path
from tools.textio import decode, is_binary

MAX_LINE_CHARS = 300


def _hard_linked(ctx: ToolContext, relative: str) -> bool:
    """Whether the file has other names; as read_file, grep shows nothing of such files."""
    try:
        return os.lstat(ctx.workspace / relative).st_nlink > 1
    except OSError:
        return False


def ripgrep() -> str | None:
    """The ``rg`` binary: the one the ripgrep wheel put beside this Python, else PATH (never a
    folder inside the workspace)."""
    return executables.find("rg")


class Grep(Tool):
    """Search file contents with a regular expression (ripgrep syntax), skipping what
    .gitignore ignores. Returns path:line:text for each match, or only the paths."""

    name: ClassVar[str] = "grep"
    kind: ClassVar[ToolKindName] = "read"

    pattern: str = Field(description="Regular expression to search for.")
    path: str = Field(".", description="File or folder to search, relative to the workspace.")
    glob: str | None = Field(None, description="Only search files matching this glob, e.g. '*.py'.")
    ignore_case: bool = Field(False, description="Match case-insensitively.")
    context: int = Field(0, ge=0, le=10, description="Lines of context around each match.")
    output: Literal["lines", "files"] = Field("lines", description="Matching lines, or file paths.")
    limit: int = Field(200, ge=1, le=2000, description="How many output lines to return at most.")

    def summary(self) -> str:
        where = "" if self.path == "." else f" in {self.path}"
        return f"grep {self.pattern!r}{where}" + (f" ({self.glob})" if self.glob else "")

    async def run(self, ctx: ToolContext) -> ToolResult:
        target = resolve(ctx, self.path)
        if not target.exists():
            raise ToolError(f"{self.path} does not exist.")
        if not (target.is_file() or target.is_dir()):
            raise ToolError(f"{self.path} is not a regular file or a folder.")  # a FIFO blocks
        rg = ripgrep()
        found = await self._ripgrep(rg, ctx, target) if rg else self._python(ctx, target)
        hidden = {path for path, _ in found if path and is_secret_path(path)}
        if target.is_file():
            hidden.clear()  # asked for by name, and approved
        linked = {path for path, _ in found if path and _hard_linked(ctx, path)}
        left_out = hidden | linked
        lines = [
            safe_text(path) + rest if path else rest for path, rest in found if path not in left_out
        ]
        while lines and lines[0] == "--":
            lines.pop(0)
        notes = []
        if hidden:
            notes.append(
                f"(matches in {plural(len(hidden), 'file')} that usually hold secrets, such as "
                f"{sorted(hidden)[0]}, are left out; read_file can show one if the user approves)"
            )
        if linked:
            notes.append(
                f"(matches in {plural(len(linked), 'file')} with more than one hard link, such "
                f"as {sorted(linked)[0]}, are left out: another link may be outside the "
                "workspace)"
            )
        if not lines:
            return ToolResult(output="\n".join(["No matches.", *notes]), summary="no matches")
        total = len(lines)
        shown = lines[: self.limit]
        if total > self.limit:
            shown.append(f"({total - self.limit} more lines not shown; narrow the search)")
        noun = "file" if self.output == "files" else "line"
        return ToolResult(output="\n".join(shown + notes), summary=plural(total, noun))

    async def _ripgrep(self, rg: str, ctx: ToolContext, target: Path) -> list[tuple[str, str]]:
        """(path, rest of the line) pairs; the path is "" on ``--`` context separators."""
        args = [rg, "--no-config", "--no-heading", "--with-filename", "--line-number", "--null"]
        args.append("--color=never")
        args += ["--hidden", "--glob=!.git", "--no-require-git", f"--max-columns={MAX_LINE_CHARS}"]
        args += ["--max-columns-preview"]
        if self.ignore_case:
            args.append("--ignore-case")
        if self.context:
            args.append(f"--context={self.context}")
        if self.output == "files":
            args.append("--files-with-matches")
        if self.glob:
            args.append(f"--glob={self.glob}")
        args += ["--regexp", self.pattern, "--", ctx.relative(target)]
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=ctx.workspace,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        except TimeoutError:
            process.kill()
            raise ToolError("The search took over 60 s; narrow it with path or glob.") from None
        if process.returncode == 2 and not out:
            message = err.decode(errors="replace").strip().splitlines()
            raise ToolError("grep failed: " + (message[-1] if message else "ripgrep error"))
        if self.output == "files":
            names = (os.fsdecode(name) for name in out.split(b"\0") if name.strip())
            return [(name.removeprefix("./"), "") for name in names]
        found = []
        for raw in out.splitlines():
            path, null, rest = raw.partition(b"\0")
            if not null:
                found.append(("", raw.decode(errors="replace")))
                continue
            text = rest.decode(errors="replace")
            separator = text.lstrip("0123456789")[:1] or ":"
            found.append((os.fsdecode(path).removeprefix("./"), separator + text))
        return found

    def _python(self, ctx: ToolContext, target: Path) -> list[tuple[str, str]]:
        try:
            regex = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)
        except re.error as error:
            raise ToolError(f"Invalid regular expression: {error}") from None
        if target.is_file():
            paths = [ctx.relative(target)]
        else:
            prefix = "" if target == ctx.workspace else ctx.relative(target) + "/"
            paths = [p for p in workspace_files(ctx.workspace) if p.startswith(prefix)]
        if self.glob:
            matcher = glob_matcher(self.glob)
            paths = [p for p in paths if matcher.match(p)]
        found: list[tuple[str, str]] = []
        for relative in paths:
            try:
                with os.fdopen(open_inside(ctx.workspace, relative), "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            if is_binary(data):
                continue
            lines = decode(data).text.split("\n")
            if lines[-1] == "":
                lines.pop()  # the final newline ends the last line; it does not start one
            hits = {i for i, line in enumerate(lines) if regex.search(line)}
            if not hits:
                continue
            if self.output == "files":
                found.append((relative, ""))
                continue
            shown: set[int] = set()
            for hit in hits:
                for i in range(max(0, hit - self.context), min(len(lines), hit + self.context + 1)):
                    shown.add(i)
            for i in sorted(shown):
                mark = ":" if i in hits else "-"
                found.append((relative, f"{mark}{i + 1}{mark}{lines[i][:MAX_LINE_CHARS]}"))
        return found
