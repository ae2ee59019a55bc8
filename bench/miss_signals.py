"""Which evidence in an issue's text points at the gold file Shipmate missed?

Reads the misses ``bench/localization.py --misses FILE`` writes and, for each gold file,
checks the signals issue 13 names, each against the whole tree so a signal that also points
at many other files shows as weak:

- path: the file's path (or its dotted module name) appears in the text, as in a traceback;
- frame: a traceback frame names a function the file defines;
- message: a 4-word run of an error or warning line appears in the file;
- literal: a 4-word run of any line of the text is a 4-word run of a string literal in the
  file (a message the file raises or logs, quoted in the issue without its exception name);
- defines: identifiers the text spells out that the file defines (def/class), with how many
  files define each;
- specific: one of the above points at at most two files (a path, a frame, a literal
  quoted by at most two files, a name only this file defines);
- stem: the file's name (``nanops``, ``rolling``) appears as a word in the text.

    python bench/miss_signals.py MISSES.json
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from index import DATA

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")
_DEFINITION = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)
_FRAME = re.compile(r'File "[^"]*", line \d+, in (\w+)')
_MESSAGE = re.compile(r"\w*(?:Error|Exception|Warning)\w*: (.+)$", re.M)
_WORD = re.compile(r"\w+")
_LITERAL = re.compile(
    r'"""(.*?)"""|\'\'\'(.*?)\'\'\'|"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'', re.S
)
_ALPHA = re.compile(r"[A-Za-z]+")


def runs(text: str) -> set[tuple[str, ...]]:
    """Every run of 4 words (letters only, lower-cased) on one line of the text."""
    found = set()
    for line in text.splitlines():
        words = [word.lower() for word in _ALPHA.findall(line)]
        found.update(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    return found


def tree_of(project: str) -> Path:
    """The unpacked snapshot of a project (bench/localization.py unpacks them)."""
    trees = (DATA / "swebench").iterdir()
    return next(tree for tree in trees if tree.name.split("@")[0].endswith(f"__{project}"))


class Tree:
    """The .py files of a snapshot, who defines each name and who quotes each 4-word run."""

    def __init__(self, root: Path) -> None:
        self.text = {
            str(path.relative_to(root)): path.read_text(encoding="utf-8", errors="replace")
            for path in root.rglob("*.py")
            if ".git" not in path.parts
        }
        self.definers: dict[str, set[str]] = defaultdict(set)
        self.quoters: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for path, text in self.text.items():
            for groups in _LITERAL.findall(text):
                for run in runs(" ".join(groups)):
                    self.quoters[run].add(path)
            for name in _DEFINITION.findall(text):
                self.definers[name].add(path)


def signals(query: str, gold: str, tree: Tree) -> dict[str, object]:
    """The evidence in the query that points at ``gold``, with how specific it is."""
    text = tree.text.get(gold, "")
    module = gold.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    found: dict[str, object] = {}
    if gold in query or module in query:
        found["path"] = True
    frames = [f for f in _FRAME.findall(query) if gold in tree.definers.get(f, ())]
    if frames:
        found["frame"] = sorted(set(frames))
    for message in _MESSAGE.findall(query):
        words = _WORD.findall(message)
        for start in range(max(len(words) - 3, 0)):
            run = r"\W+".join(words[start : start + 4])
            if re.search(run, text):
                holders = sum(1 for other in tree.text.values() if re.search(run, other))
                found["message"] = f"{' '.join(words[start : start + 4])!r} in {holders} files"
                break
    quoted = [run for run in runs(query) if gold in tree.quoters.get(run, ())]
    if quoted:
        best = min(quoted, key=lambda run: (len(tree.quoters[run]), run))
        found["literal"] = f"{' '.join(best)!r} in {len(tree.quoters[best])} files"
    named = {name for name in _IDENTIFIER.findall(query) if gold in tree.definers.get(name, ())}
    if named:
        found["defines"] = {name: len(tree.definers[name]) for name in sorted(named)}
    if (
        "path" in found
        or "frame" in found
        or any(len(tree.quoters[run]) <= 2 for run in quoted)
        or any(len(tree.definers[name]) == 1 for name in named)
    ):
        found["specific"] = True
    stem = Path(gold).stem
    if stem != "__init__" and re.search(rf"\b{re.escape(stem)}\b", query):
        found["stem"] = stem
    return found


def main() -> None:
    misses = json.loads(Path(sys.argv[1]).read_text())
    trees: dict[str, Tree] = {}
    tally: Counter[str] = Counter()
    cases_with: Counter[str] = Counter()
    for miss in misses:
        project = miss["project"]
        if project not in trees:
            trees[project] = Tree(tree_of(project))
        print(f"\n{miss['id']}  ({len(miss['query'])} chars)")
        every: set[str] | None = None
        for gold, rank in miss["gold"].items():
            found = signals(miss["query"], gold, trees[project])
            every = set(found) if every is None else every & set(found)
            tally.update(found.keys())
            print(f"  {gold} rank {rank} (BM25 {miss['bm25_gold'][gold]}): {found or 'nothing'}")
        cases_with.update(every or ())
        print(f"  top {miss['top'][:5]}")
    print(f"\n{len(misses)} misses; gold files with each signal: {dict(tally)}")
    print(f"misses where every gold file has it: {dict(cases_with)}")


if __name__ == "__main__":
    main()
