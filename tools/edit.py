"""Exact text replacement, forgiving of the whitespace slips models make.

Matching goes from strict to loose and stops at the first level that finds something:
exact text, then lines equal but for trailing whitespace, then lines equal but for
indentation (the replacement is re-indented to fit). When nothing matches, the closest
lines are shown so the model can copy the real text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field

from agent.events import ToolKindName
from tools.base import Tool, ToolContext, ToolError, ToolResult
from tools.files import unified_diff
from tools.paths import load_text, resolve, save_text
from tools.syntax import introduced_error

SNIPPET_CONTEXT = 3


class EditFile(Tool):
    """Replace old_text with new_text in a file. old_text must match the file exactly
    (copy it from read_file output without the line numbers) and only once, unless
    replace_all is set; include a few surrounding lines to make it unique. To delete text,
    pass an empty new_text."""

    name: ClassVar[str] = "edit_file"
    kind: ClassVar[ToolKindName] = "edit"

    path: str = Field(description="Path relative to the workspace root.")
    old_text: str = Field(description="The exact text to replace.")
    new_text: str = Field(description="The text to put in its place.")
    replace_all: bool = Field(False, description="Replace every occurrence.")

    def files_used(self) -> list[str]:
        return [self.path]

    def summary(self) -> str:
        return f"edit {self.path}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        if not self.old_text:
            raise ToolError(
                "old_text is empty; to create a file or replace it whole use write_file."
            )
        if self.old_text == self.new_text:
            raise ToolError("old_text and new_text are the same; nothing would change.")
        path = resolve(ctx, self.path, for_write=True)
        file, data = await load_text(ctx, path, self.path)
        if ctx.changed_since_seen(path, data):
            raise ToolError(
                f"{self.path} changed on disk since you last read it (a command or a person "
                "changed it); read it again before editing."
            )
        new_text, first_line, how = self._replace(file.text)
        new_data = file.encode(new_text)
        await save_text(ctx, path, new_data)
        ctx.remember(path, new_data)
        shown = ctx.relative(path)
        ctx.files_changed.add(shown)
        note = f" (matched {how})" if how else ""
        output = f"Edited {shown}{note}. The changed region now reads:\n" + _snippet(
            new_text, first_line, self.new_text.count("\n") + 1
        )
        warning = introduced_error(shown, file.text, new_text)
        return ToolResult(
            output=output + (f"\n{warning}" if warning else ""),
            summary=f"edited {shown}" + (" (syntax error)" if warning else ""),
            diff=unified_diff(shown, file.text, new_text),
            files_changed=[shown],
        )

    def _replace(self, text: str) -> tuple[str, int, str]:
        """The new text, the first changed line (1-based) and how the match was found."""
        count = text.count(self.old_text)
        if count:
            starts = _occurrences(text, self.old_text)
            if count > 1 and not self.replace_all:
                raise ToolError(_ambiguous(count, [text.count("\n", 0, s) + 1 for s in starts]))
            first_line = text.count("\n", 0, starts[0]) + 1
            if self.replace_all:
                return text.replace(self.old_text, self.new_text), first_line, ""
            return text.replace(self.old_text, self.new_text, 1), first_line, ""
        lines = text.split("\n")
        old_lines = _lines(self.old_text)
        new_lines = _lines(self.new_text) if self.new_text else []
        for how, same in (
            ("ignoring trailing whitespace", lambda a, b: a.rstrip() == b.rstrip()),
            ("ignoring indentation", lambda a, b: a.strip() == b.strip()),
        ):
            found = _find_lines(lines, old_lines, same)
            if not found:
                continue
            if len(found) > 1 and not self.replace_all:
                raise ToolError(_ambiguous(len(found), [i + 1 for i in found]))
            for start in reversed(found):
                replacement = new_lines
                if how == "ignoring indentation":
                    replacement = _reindent(
                        new_lines, old_lines, lines[start : start + len(old_lines)]
                    )
                lines[start : start + len(old_lines)] = replacement
            return "\n".join(lines), found[0] + 1, how
        raise ToolError(_not_found(lines, old_lines))


def _lines(text: str) -> list[str]:
    return (text[:-1] if text.endswith("\n") else text).split("\n")


def _occurrences(text: str, needle: str) -> list[int]:
    starts, at = [], text.find(needle)
    while at != -1:
        starts.append(at)
        at = text.find(needle, at + len(needle))
    return starts


def _find_lines(lines: list[str], wanted: list[str], same: Callable[[str, str], bool]) -> list[int]:
    """Start indexes of non-overlapping runs of ``lines`` that match ``wanted``."""
    found: list[int] = []
    i, n = 0, len(wanted)
    while i + n <= len(lines):
        if all(same(lines[i + k], wanted[k]) for k in range(n)):
            found.append(i)
            i += n
        else:
            i += 1
    return found


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(new_lines: list[str], old_lines: list[str], matched: list[str]) -> list[str]:
    """Shift new_lines by the indentation difference between old_text and the file."""
    pairs = [(o, m) for o, m in zip(old_lines, matched, strict=True) if o.strip()]
    if not pairs:
        return new_lines
    old_indent, file_indent = _indent(pairs[0][0]), _indent(pairs[0][1])
    shifted = []
    for line in new_lines:
        if not line.strip():
            shifted.append(line)
        elif line.startswith(old_indent):
            shifted.append(file_indent + line[len(old_indent) :])
        else:
            shifted.append(file_indent + line.lstrip())
    return shifted


def _ambiguous(count: int, line_numbers: list[int]) -> str:
    where = ", ".join(str(n) for n in line_numbers[:10])
    return (
        f"old_text was found {count} times (at lines {where}). Include more surrounding "
        "lines to make it unique, or set replace_all to change every occurrence."
    )


def _not_found(lines: list[str], old_lines: list[str]) -> str:
    message = "old_text was not found in the file."
    start = _closest(lines, old_lines)
    if start is None:
        return message + " Read the file again and copy the text exactly."
    end = min(len(lines), start + len(old_lines))
    numbered = "\n".join(f"{n + 1:>6}\t{lines[n]}" for n in range(start, end))
    return (
        f"{message} The most similar lines are {start + 1}-{end}:\n{numbered}\n"
        "Copy the text exactly as the file has it (without line numbers) and try again."
    )


def _closest(lines: list[str], old_lines: list[str]) -> int | None:
    """Start of the window of lines most like old_lines, if any is reasonably alike."""
    wanted = "\n".join(line.strip() for line in old_lines)
    stripped = [line.strip() for line in lines]
    n = len(old_lines)
    head = difflib.SequenceMatcher(None, b=old_lines[0].strip())
    candidates = []
    for i in range(max(1, len(lines) - n + 1)):
        head.set_seq1(stripped[i])
        candidates.append((head.quick_ratio(), i))
    candidates.sort(reverse=True)
    best, best_ratio = None, 0.5
    matcher = difflib.SequenceMatcher(None, b=wanted)
    for _, i in candidates[:50]:
        matcher.set_seq1("\n".join(stripped[i : i + n]))
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = i, ratio
    return best


def _snippet(text: str, first_line: int, changed: int) -> str:
    lines = text.split("\n")
    start = max(1, first_line - SNIPPET_CONTEXT)
    end = min(len(lines), first_line + changed - 1 + SNIPPET_CONTEXT)
    return "\n".join(f"{n:>6}\t{lines[n - 1]}" for n in range(start, end + 1))
