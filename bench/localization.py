"""Does the ranking find the files a change needs? Acc@k on real SymPy changes.

Each line of the data set is a merged change: its description (``query``) and the files it
edited (``gold_files``). A query scores at k when all of its gold files are in the top k of
the ranking that ``shipmate map --query QUERY --json`` reports (this calls the same code).

    python bench/localization.py [--data FILE] [--source DIR]

The defaults are the data set in ../shared/bench and the SymPy tree bench/index.py fetches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from agent.index.index import CodeIndex
from agent.index.rank import Ranker
from agent.index.store import Store

KS = (1, 3, 5, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/bench/sympy_localization_dev.jsonl")
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=Path.home() / ".cache" / "shipmate-bench" / "sympy",
        help="the unpacked source tree (python bench/index.py fetches SymPy there)",
    )
    parser.add_argument("--show-misses", type=int, default=0, metavar="N")
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as cache:
        index = CodeIndex(args.source, Store(Path(cache) / "index.sqlite"))
        index.refresh()
        ranker = Ranker(index.model)
        hits = dict.fromkeys(KS, 0)
        seconds = []
        misses = []
        for case in cases:
            started = time.perf_counter()
            ranking = [path for path, _ in ranker.rank(case["query"])]
            seconds.append(time.perf_counter() - started)
            gold = set(case["gold_files"])
            for k in KS:
                hits[k] += gold <= set(ranking[:k])
            if not gold <= set(ranking[:5]):
                position = max(ranking.index(g) if g in ranking else 10**6 for g in gold)
                title = case["query"].splitlines()[0][:70]
                misses.append((position, title, sorted(gold), ranking[:5]))
    print(f"{len(cases)} queries, median {statistics.median(seconds) * 1000:.0f} ms per ranking")
    print("  ".join(f"Acc@{k} {hits[k] / len(cases):.3f}" for k in KS))
    for position, title, gold, top in sorted(misses)[: args.show_misses]:
        print(f"- rank {position + 1}: {title}\n    gold {gold}\n    top  {top}")


if __name__ == "__main__":
    main()
