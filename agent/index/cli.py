"""``shipmate index``, ``shipmate map`` and ``shipmate symbols``: the index from the shell."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from agent.index.files import IndexRefused
from agent.index.index import CodeIndex, Stats, SymbolUse, Uses, split_qualified
from agent.index.progress import ProgressLine
from agent.index.repomap import estimate_tokens
from tools.errors import plural

EXIT_USAGE = 2
SHOWN_SKIPPED = 20  # per reason, in ``index --verbose``


class Unavailable(Exception):
    """The index cannot be opened here; the message says what to do."""


def open_index(workspace: Path, show_progress: bool = True) -> tuple[CodeIndex, Stats]:
    """The index of ``workspace``, refreshed, with progress on stderr while it builds."""
    index = CodeIndex(workspace, max_files=lambda: _max_files(workspace))
    progress = ProgressLine(sys.stderr) if show_progress else None
    try:
        stats = index.refresh(progress)
    except IndexRefused as error:
        raise Unavailable(str(error)) from None
    finally:
        if progress:
            progress.finish()
    if index.store.problem:  # known once the index has been saved (or failed to be)
        print(f"note: {index.store.problem}.", file=sys.stderr)
    return index, stats


def _max_files(workspace: Path) -> int:
    """The one setting the index reads, asked for only outside git (where a walk needs a
    limit): in a repository the index commands start without the settings and pydantic."""
    from agent.config import ConfigError, load_settings

    try:
        return load_settings(workspace).index_max_files
    except ConfigError as error:
        raise IndexRefused(str(error)) from None


def _unavailable(error: Unavailable) -> int:
    print(f"shipmate: {error}", file=sys.stderr)
    return EXIT_USAGE


def index_command(workspace: Path, as_json: bool, watch: bool, verbose: bool = False) -> int:
    try:
        index, stats = open_index(workspace)
    except Unavailable as error:
        return _unavailable(error)
    if as_json:
        print(json.dumps({"root": str(index.root), **vars(stats)}))
    else:
        kind = "cold" if stats.cold else "warm"
        print(
            f"Indexed {plural(stats.files, 'file')} in {stats.seconds:.2f} s ({kind}: "
            f"{stats.parsed:,} parsed, {stats.read:,} read): "
            f"{plural(stats.symbols, 'definition')}"
        )
        languages = " · ".join(f"{name} {count:,}" for name, count in stats.languages.items())
        if languages:
            print(f"  {languages}")
        for line in _skipped_lines(stats.skipped_files, verbose):
            print(line)
    if watch:
        from agent.index.watcher import watch_forever

        print("Watching for changes; Ctrl-C to stop.", file=sys.stderr)
        watch_forever(index, lambda paths, seconds: print(_updated(paths, seconds), flush=True))
    return 0


def _skipped_lines(skipped: list[dict[str, str]], verbose: bool) -> list[str]:
    """How many files were left out and why; with ``verbose``, which ones."""
    if not skipped:
        return []
    reasons = Counter(item["reason"] for item in skipped)
    summary = ", ".join(
        plural(count, reason) if reason.endswith("file") else f"{count:,} {reason}"
        for reason, count in reasons.most_common()
    )
    lines = [
        f"  {len(skipped):,} skipped: {summary}" + ("" if verbose else " (--verbose lists them)")
    ]
    if verbose:
        for reason, count in reasons.most_common():
            paths = [item["path"] for item in skipped if item["reason"] == reason]
            lines.append(f"  {reason}:")
            lines += [f"    {path}" for path in paths[:SHOWN_SKIPPED]]
            if count > SHOWN_SKIPPED:
                lines.append(f"    and {count - SHOWN_SKIPPED:,} more (--json lists every one)")
    return lines


def _updated(paths: list[str], seconds: float) -> str:
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    return f"updated {shown} in {seconds * 1000:.0f} ms"


def map_command(workspace: Path, query: str, focus: list[str], tokens: int, as_json: bool) -> int:
    started = time.perf_counter()
    try:
        index, _ = open_index(workspace)
    except Unavailable as error:
        return _unavailable(error)
    focus = [_relative(workspace, path) for path in focus]
    for path in focus:
        if path not in index.model.files:
            print(f"note: --focus {path}: {focus_problem(index, path)}", file=sys.stderr)
    ranking = index.ranking(query, focus)
    text = index.repo_map(query, focus, tokens, ranking)
    seconds = time.perf_counter() - started
    if as_json:
        files = [{"path": path, "score": round(score, 6)} for path, score in ranking]
        print(
            json.dumps(
                {"files": files, "map": text, "tokens": estimate_tokens(text), "seconds": seconds}
            )
        )
    else:
        print(text)
    return 0


def focus_problem(index: CodeIndex, path: str) -> str:
    """Why a file given as the focus is not in the index (the map is ranked without it)."""
    skipped = index.skipped()
    folder = next((f for f in skipped if f.endswith("/") and path.startswith(f)), None)
    if path in skipped or folder:
        reason = skipped[path] if path in skipped else skipped[folder or ""]
        return f"not indexed ({reason}); the map is ranked without it."
    if (index.root / path).is_dir():
        return "a folder, not a file; the map is ranked without it."
    if not (index.root / path).exists():
        return "no such file; the map is ranked without it."
    return "not indexed (outside the workspace or ignored); the map is ranked without it."


def symbols_command(workspace: Path, name: str, as_json: bool) -> int:
    try:
        index, _ = open_index(workspace)
    except Unavailable as error:
        return _unavailable(error)
    definitions = index.definitions(name)
    uses = index.uses(name)
    if as_json:
        print(
            json.dumps(
                {
                    "definitions": [vars(d) for d in definitions],
                    "references": [vars(r) for r in uses.lines],
                    "references_total": uses.total,
                }
            )
        )
        return 0 if definitions or uses.lines else 1
    if not definitions and not uses.lines:
        print(f"'{name}' is neither defined nor used in the indexed files.", file=sys.stderr)
        return 1
    print("\n".join(symbol_report(name, definitions, uses)))
    return 0


def symbol_report(symbol: str, definitions: list[SymbolUse], uses: Uses) -> list[str]:
    """Definitions, then uses (``and N more`` past the ones listed)."""
    lines = [f"Definitions of {symbol}:" if definitions else f"No definition of {symbol} found."]
    lines += [f"  {d.path}:{d.line}  {d.text}" for d in definitions]
    if uses.lines:
        owner, name = split_qualified(symbol)
        which = f" of {name} in files that use {owner}" if owner else ""
        lines.append(f"Uses{which} ({uses.total:,}):")
        lines += [f"  {u.path}:{u.line}  {u.text}" for u in uses.lines]
        if uses.more:
            lines.append(f"  and {uses.more:,} more")
    return lines


def _relative(workspace: Path, path: str) -> str:
    """A path as the user typed it (relative to where they are) as the index names it."""
    try:
        return (Path.cwd() / path).resolve().relative_to(workspace).as_posix()
    except ValueError:
        return path
