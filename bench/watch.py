"""What ``shipmate watch`` costs beside the index: the scan for AI comments already in the
files when it starts, and finding them in one saved file (the work between a save and the
request).

- start-up scan: every indexed file read and sieved for a marker, the few with one parsed;
- one save: ``find_ai_comments`` on each file with an AI comment added at its end (so the
  scanner and the tree-sitter confirmation both run), median and worst.

    python bench/watch.py                # this repository
    python bench/watch.py --tree DIR     # any source tree (indexed first, in a temp cache)
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.context.ai_comments import find_ai_comments, syntax_for
from agent.frontends.watch import Watch, WatchOutput
from agent.index.index import CodeIndex
from agent.index.store import Store
from tools.base import ToolContext


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    tree = parser.parse_args().tree.resolve()
    with tempfile.TemporaryDirectory() as cache:
        index = CodeIndex(tree, Store(Path(cache) / "index.sqlite"))
        stats = index.refresh()
        print(f"{tree}: {stats.files:,} files indexed ({stats.seconds:.2f} s)")
        conversation = SimpleNamespace(ctx=ToolContext(workspace=tree))
        watch = Watch(conversation, index, WatchOutput(io.StringIO(), io.StringIO()))  # type: ignore[arg-type]
        started = time.perf_counter()
        found = watch.baseline()
        print(f"start-up scan: {time.perf_counter() - started:.3f} s, {found} AI comments")
        times = []
        for path in sorted(index.rows):
            try:
                text = (tree / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            lines, blocks = syntax_for(path, text)
            marker = lines[0] if lines else blocks[0][0]
            closing = "" if lines else " " + blocks[0][1]
            text += f"\n{marker} bench this AI!{closing}\n"
            started = time.perf_counter()
            comments = find_ai_comments(path, text)
            times.append(time.perf_counter() - started)
            assert any(comment.text.endswith("bench this AI!") for comment in comments), path
        times.sort()
        print(
            f"one save, {len(times):,} files: median {1000 * statistics.median(times):.2f} ms, "
            f"p95 {1000 * times[int(len(times) * 0.95)]:.2f} ms, worst {1000 * times[-1]:.2f} ms"
        )
        index.close()


if __name__ == "__main__":
    main()
