"""Does the ranking find the files a change needs? Acc@k on two data sets, beside BM25.

Each case is a request and the files its accepted fix edited (``gold_files``). A case scores
at k when all of its gold files are in the top k of the ranking that ``shipmate map --query
QUERY --json`` reports (this calls the same code, ``Ranker.rank``). Two data sets:

- sympy: merged SymPy changes (their PR descriptions) on the SymPy 1.14.0 wheel, which
  ``python bench/index.py`` fetches (this script fetches it too when it is missing);
- swebench: 169 real GitHub issues from nine projects, each ranked in its project's source
  snapshot (../shared/bench/swebench_dev/README.md), reported overall and per project.

Beside Shipmate's ranking, the same run scores plain BM25 (k1=1.2, b=0.75) over the ``.py``
files, each file one bag of identifier parts (split on ``_`` and camelCase, lower-cased), the
request tokenised the same way: the baseline a ranking has to beat; and ``bm25-code``, the
same over the files that are not tests, which is much stronger on real issues (a fix is
never only in a test file) and the fairer one to beat.

    python bench/localization.py [--set sympy|swebench|both] [--misses FILE]

Unpacked trees and their indexes are cached under ~/.cache/shipmate-bench (or
$SHIPMATE_BENCH_DATA), so only the first run builds them. ``--misses FILE`` writes every
swebench case Shipmate misses at 5 (its gold files' ranks, the top 10, the request) as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from index import DATA, fetch_sympy

from agent.index.index import CodeIndex
from agent.index.rank import is_test
from agent.index.store import Store

KS = (1, 3, 5, 10)
RANKINGS = ("shipmate", "bm25", "bm25-code")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def tokens(text: str) -> list[str]:
    """Identifier parts, lower-cased: ``coset_unrank`` and ``AbelianGroup`` give two each."""
    return [
        part.lower()
        for identifier in _IDENTIFIER.findall(text)
        for part in _PARTS.findall(identifier)
    ]


class BM25:
    """Plain BM25 over the ``.py`` files of a tree: the baseline, with no code knowledge."""

    def __init__(self, docs: dict[str, Counter[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = docs
        self.lengths = {path: sum(bag.values()) for path, bag in self.docs.items()}
        self.average = statistics.mean(self.lengths.values()) if self.docs else 1.0
        self.postings: dict[str, list[str]] = defaultdict(list)
        for path, bag in self.docs.items():
            for term in bag:
                self.postings[term].append(path)

    @classmethod
    def of_tree(cls, root: Path, paths: list[str]) -> BM25:
        docs = {}
        for path in paths:
            if path.endswith(".py"):
                text = (root / path).read_text(encoding="utf-8", errors="replace")
                docs[path] = Counter(tokens(text))
        return cls(docs)

    def without_tests(self) -> BM25:
        """The same baseline over the code alone: stronger, as test files are never the fix."""
        return BM25({path: bag for path, bag in self.docs.items() if not is_test(path)})

    def rank(self, request: str) -> list[str]:
        n = len(self.docs)
        scores: dict[str, float] = defaultdict(float)
        for term, query_count in Counter(tokens(request)).items():
            holders = self.postings.get(term, ())
            if not holders:
                continue
            idf = math.log(1 + (n - len(holders) + 0.5) / (len(holders) + 0.5))
            for path in holders:
                tf = self.docs[path][term]
                norm = self.k1 * (1 - self.b + self.b * self.lengths[path] / self.average)
                scores[path] += query_count * idf * tf * (self.k1 + 1) / (tf + norm)
        return sorted(scores, key=lambda path: (-scores[path], path))


def unpack(archive: Path) -> Path:
    """The snapshot unpacked and committed once (the index lists files through git)."""
    name = archive.name.removesuffix(".tar.gz")
    tree = DATA / "swebench" / name
    if not (tree / ".git").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tree.parent, filter="data")
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
            subprocess.run([*git, *step], cwd=tree, check=True, capture_output=True)
    return tree


class Scores:
    """Acc@k counts for one group of cases."""

    def __init__(self) -> None:
        self.cases = 0
        self.hits = {name: dict.fromkeys(KS, 0) for name in RANKINGS}

    def add(self, gold: set[str], rankings: dict[str, list[str]]) -> None:
        self.cases += 1
        for name, ranking in rankings.items():
            for k in KS:
                self.hits[name][k] += gold <= set(ranking[:k])

    def row(self, name: str) -> str:
        return " | ".join(f"{self.hits[name][k] / max(self.cases, 1):.3f}" for k in KS)


def evaluate(
    root: Path, cases: list[dict], cache: Path, groups: dict[str, Scores], misses: list[dict]
) -> dict[str, float]:
    """Score every case against one tree; returns the timings."""
    started = time.perf_counter()
    index = CodeIndex(root, Store(cache / "index.sqlite"))
    index.refresh()
    indexed = time.perf_counter()
    ranker = index.ranker
    bm25 = BM25.of_tree(root, sorted(index.model.files))
    bm25_code = bm25.without_tests()
    built = time.perf_counter()
    seconds = []
    for case in cases:
        ranking_started = time.perf_counter()
        ours = [path for path, _ in ranker.rank(case["query"])]
        seconds.append(time.perf_counter() - ranking_started)
        rankings = {
            "shipmate": ours,
            "bm25": bm25.rank(case["query"]),
            "bm25-code": bm25_code.rank(case["query"]),
        }
        gold = set(case["gold_files"])
        for group in ("all", case["project"]):
            groups.setdefault(group, Scores()).add(gold, rankings)
        if not gold <= set(ours[:5]):
            misses.append(
                {
                    "id": case["id"],
                    "project": case["project"],
                    "gold": {g: ours.index(g) + 1 if g in ours else None for g in sorted(gold)},
                    "bm25_gold": {
                        g: rankings["bm25"].index(g) + 1 if g in rankings["bm25"] else None
                        for g in sorted(gold)
                    },
                    "top": ours[:10],
                    "query": case["query"],
                }
            )
    return {"index": indexed - started, "bm25": built - indexed, "rankings": sum(seconds)}


def table(title: str, groups: dict[str, Scores], timings: dict[str, dict[str, float]]) -> None:
    """A Markdown table, so the figures paste straight into the notes."""
    print(f"\n## {title}\n")
    print("| project | cases | ranking | @1 | @3 | @5 | @10 | index s | rank ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for group, scores in groups.items():
        timing = timings.get(group)
        for name in RANKINGS:
            if timing and name == "shipmate":
                per_case = timing["rankings"] / scores.cases * 1000
                spent = f" {timing['index']:.1f} | {per_case:.0f}"
            else:
                spent = " | "
            print(f"| {group} | {scores.cases} | {name} | {scores.row(name)} |{spent} |")


def run_sympy(data: Path) -> None:
    """One tree for every case, so one group: the whole set."""
    cases = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    for case in cases:
        case["project"] = "sympy-changes"
    groups: dict[str, Scores] = {"all": Scores()}
    cache = DATA / "index-cache" / "sympy-1.14.0"
    cache.mkdir(parents=True, exist_ok=True)
    timing = evaluate(fetch_sympy(), cases, cache, groups, [])
    del groups["sympy-changes"]
    table(f"SymPy changes ({data.name})", groups, {"all": timing})


def run_swebench(folder: Path, misses_file: Path | None) -> None:
    """Each case in its project's snapshot, scored overall and per project."""
    cases = [json.loads(line) for line in (folder / "dev.jsonl").read_text().splitlines()]
    by_tree: dict[str, list[dict]] = defaultdict(list)
    for case in cases:
        case["id"] = case["instance_id"]
        case["project"] = case["repo"].split("/")[-1]
        by_tree[case["tree"]].append(case)
    groups: dict[str, Scores] = {"all": Scores()}
    timings: dict[str, dict[str, float]] = {}
    misses: list[dict] = []
    for tree, group in by_tree.items():
        started = time.perf_counter()
        checkout = unpack(folder / tree)
        cache = DATA / "index-cache" / checkout.name
        cache.mkdir(parents=True, exist_ok=True)
        timing = evaluate(checkout, group, cache, groups, misses)
        timings[group[0]["project"]] = timing
        print(
            f"{group[0]['project']}: {len(group)} cases, index "
            f"{timing['index']:.1f} s, BM25 build {timing['bm25']:.1f} s, "
            f"{time.perf_counter() - started:.1f} s in all",
            file=sys.stderr,
        )
    table(f"SWE-bench dev ({len(cases)} issues, nine projects)", groups, timings)
    if misses_file:
        misses_file.write_text(json.dumps(misses, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("sympy", "swebench", "both"), default="both")
    parser.add_argument("--sympy-data", type=Path, default=SHARED / "sympy_localization_dev.jsonl")
    parser.add_argument("--swebench", type=Path, default=SHARED / "swebench_dev")
    parser.add_argument("--misses", type=Path, metavar="FILE")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.set in ("sympy", "both"):
        run_sympy(args.sympy_data)
    if args.set in ("swebench", "both"):
        run_swebench(args.swebench, args.misses)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
