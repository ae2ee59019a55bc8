"""A syntax check after every edit: tree-sitter parses the file before and after.

Only errors the edit introduced are reported (a file that was already broken, or a language
without a grammar, gives no warning), so the model hears about a missing bracket at once,
not several tool calls later when a test run fails.
"""

from __future__ import annotations

from typing import Any

from agent.index.languages import detect, tools_for


def introduced_error(path: str, before: str, after: str) -> str | None:
    """A one-line warning if ``after`` has syntax errors ``before`` did not have."""
    language = detect(path, after[:256].encode("utf-8", errors="replace"))
    tools = tools_for(language.name) if language else None
    if tools is None:
        return None
    parser = tools.parser
    new = _errors(parser.parse(after.encode("utf-8", errors="replace")).root_node)
    if not new:
        return None
    old = (
        _errors(parser.parse(before.encode("utf-8", errors="replace")).root_node) if before else []
    )
    if len(new) <= len(old):
        return None
    line, what = new[0]
    return (
        f"Syntax check: {path} now has a syntax error at line {line} ({what}). Fix it unless "
        "the file is meant to be incomplete."
    )


def _errors(root: Any, limit: int = 50) -> list[tuple[int, str]]:
    """(line, description) of ERROR and MISSING nodes, in source order."""
    found: list[tuple[int, str]] = []
    stack = [root] if root.has_error else []
    while stack and len(found) < limit:
        node = stack.pop()
        if node.is_missing:
            found.append((node.start_point[0] + 1, f"missing {node.type!r}"))
            continue
        if node.type == "ERROR":
            text = node.text.decode("utf-8", errors="replace").strip().splitlines()
            near = text[0][:40] if text else ""
            found.append((node.start_point[0] + 1, f"unexpected {near!r}" if near else "error"))
            continue
        stack.extend(
            child for child in reversed(node.children) if child.has_error or child.is_missing
        )
    return sorted(found)
