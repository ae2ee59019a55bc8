"""``shipmate index``, ``shipmate map`` and ``shipmate symbols``: the index from the shell."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from agent.index.index import CodeIndex, Stats
from agent.index.repomap import estimate_tokens
from agent.terminal import write_trusted


def _progress(done: int, total: int) -> None:
    """One line redrawn in place: Shipmate's own ``\\r``, past the terminal filter."""
    write_trusted(sys.stderr, f"\rIndexing {done:,}/{total:,} files")
    if done == total:
        write_trusted(sys.stderr, "\r" + " " * 40 + "\r")


def open_index(workspace: Path, show_progress: bool = True) -> tuple[CodeIndex, Stats]:
    index = CodeIndex(workspace)
    progress = _progress if show_progress and sys.stderr.isatty() else None
    stats = index.refresh(progress)
    if index.store.problem:
        print(f"note: {index.store.problem}", file=sys.stderr)
    return index, stats


def index_command(workspace: Path, as_json: bool, watch: bool) -> int:
    index, stats = open_index(workspace)
    if as_json:
        print(json.dumps({"root": str(index.root), **vars(stats)}))
    else:
        kind = "cold" if stats.cold else "warm"
        print(
            f"Indexed {stats.files:,} files in {stats.seconds:.2f} s ({kind}: "
            f"{stats.parsed:,} parsed, {stats.read:,} read): {stats.symbols:,} definitions"
        )
        languages = " · ".join(f"{name} {count:,}" for name, count in stats.languages.items())
        print(f"  {languages}")
        if stats.skipped:
            print(f"  {stats.skipped:,} skipped (binary, minified or over 1 MB)")
    if watch:
        from agent.index.watcher import watch_forever

        print("Watching for changes; Ctrl-C to stop.", file=sys.stderr)
        watch_forever(index, lambda paths, seconds: print(_updated(paths, seconds), flush=True))
    return 0


def _updated(paths: list[str], seconds: float) -> str:
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    return f"updated {shown} in {seconds * 1000:.0f} ms"


def map_command(workspace: Path, query: str, focus: list[str], tokens: int, as_json: bool) -> int:
    started = time.perf_counter()
    index, _ = open_index(workspace)
    focus = [_relative(workspace, path) for path in focus]
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


def symbols_command(workspace: Path, name: str, as_json: bool) -> int:
    index, _ = open_index(workspace)
    definitions = index.definitions(name)
    references = index.references(name)
    if as_json:
        print(
            json.dumps(
                {
                    "definitions": [vars(d) for d in definitions],
                    "references": [vars(r) for r in references],
                }
            )
        )
        return 0 if definitions or references else 1
    if not definitions and not references:
        print(f"'{name}' is neither defined nor used in the indexed files.", file=sys.stderr)
        return 1
    print(f"Definitions of {name}:" if definitions else f"No definition of {name} found.")
    for item in definitions:
        print(f"  {item.path}:{item.line}  {item.text}")
    if references:
        print(f"Uses ({len(references)}):")
        for item in references:
            print(f"  {item.path}:{item.line}  {item.text}")
    return 0


def _relative(workspace: Path, path: str) -> str:
    """A path as the user typed it (relative to where they are) as the index names it."""
    try:
        return (Path.cwd() / path).resolve().relative_to(workspace).as_posix()
    except ValueError:
        return path
