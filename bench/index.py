"""How fast is the code index on a big repository, against the raw cost of parsing it?

Measured in one run, so the ratios hold on a busy machine:

- raw floor: parse every file and run its grammar's tags query, in one process;
- cold build: ``shipmate index`` with an empty cache (a new process), in wall seconds and
  in CPU seconds of all its processes (against the floor's, the work it adds to parsing);
- warm start: ``shipmate index`` again, nothing changed (a new process);
- warm map: ``shipmate map --query … --tokens 2048 --json`` (a new process);
- save: one file changed, ``update()`` in a running index, then the next map;
- peak RSS of the largest process.

    python bench/index.py                 # SymPy 1.14.0's wheel and git tree, three.js 0.187.0
    python bench/index.py --tree DIR      # any source tree
    python bench/index.py --phases        # where a cold build's CPU goes, stage by stage

The wheel holds only the package's code; the git tree (a SWE-bench snapshot of SymPy's
repository, committed once into the bench data folder) adds its docs and other text.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("SHIPMATE_BENCH_DATA", Path.home() / ".cache" / "shipmate-bench"))
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
QUERY = "Fix AbelianGroup(1).random() crash with trivial group in coset_unrank"


def fetch_sympy() -> Path:
    tree = DATA / "sympy"
    if not (tree / "sympy").is_dir():
        download = DATA / "download"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "sympy==1.14.0",
                "-d",
                str(download),
                "-q",
            ],
            check=True,
        )
        wheel = next(download.glob("sympy-1.14.0-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tree)
    return tree


def fetch_git_sympy() -> Path | None:
    """SymPy's repository as git sees it (code, docs, CI files), unpacked and committed once."""
    archives = sorted((SHARED / "swebench_dev" / "trees").glob("sympy__sympy@*.tar.gz"))
    if not archives:
        return None
    tree = DATA / "git-sympy" / archives[-1].name.removesuffix(".tar.gz")
    if not (tree / ".git").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(archives[-1]) as tar:
            tar.extractall(tree.parent, filter="data")
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
            subprocess.run([*git, *step], cwd=tree, check=True, capture_output=True)
    return tree


def fetch_three() -> Path:
    tree = DATA / "three"
    if not (tree / "package" / "src").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "three@0.187.0", "--silent"], cwd=tree, check=True)
        subprocess.run(["tar", "xzf", "three-0.187.0.tgz"], cwd=tree, check=True)
    return tree / "package" / "src"


def floor_jobs(tree: Path) -> list[tuple[bytes, Any, str]]:
    """Every file with a tags query: its bytes, its language and the grammar's query."""
    from agent.index.languages import detect

    jobs = []
    for path in sorted(tree.rglob("*")):
        language = detect(str(path)) if path.is_file() else None
        if language is None:
            continue
        module = importlib.import_module(language.module)
        source = getattr(module, "TAGS_QUERY", None)
        if source is None and language.extra_query:
            source = (Path("agent/index/queries") / f"{language.extra_query}.scm").read_text()
        if not source:
            continue
        jobs.append((path.read_bytes(), language, source))
    return jobs


def raw_floor(jobs: list[tuple[bytes, Any, str]]) -> tuple[float, float]:
    """Seconds (wall, CPU) to parse every file and run the tags query on it, one process."""
    from tree_sitter import Language, Parser, Query, QueryCursor

    tools: dict[str, tuple[Parser, Query]] = {}
    started, cpu = time.perf_counter(), time.process_time()
    for data, language, source in jobs:
        if language.name not in tools:
            grammar = Language(
                getattr(importlib.import_module(language.module), language.function)()
            )
            tools[language.name] = (Parser(grammar), Query(grammar, source))
        parser, query = tools[language.name]
        QueryCursor(query).captures(parser.parse(data).root_node)
    return time.perf_counter() - started, time.process_time() - cpu


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shipmate(*args: str, cache: Path, cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, largest process) and stdout of one command."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.perf_counter()
    # -P as the ``shipmate`` script runs: ``-m`` alone would put the tree on sys.path, and
    # Shipmate then indexes in one process (a workspace folder it imports from starts no
    # worker), which is not what a user gets.
    command = [sys.executable, "-P", "-m", "agent", *args]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode:
        sys.exit(f"shipmate {' '.join(args)} failed ({process.returncode})")
    import resource

    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, rss, out


def save_latency(tree: Path, cache: Path) -> tuple[float, float]:
    """Median seconds of ``update()`` after one file changes, and of the next map."""
    os.environ["XDG_CACHE_HOME"] = str(cache)
    from agent.index.index import CodeIndex

    index = CodeIndex(tree)
    index.refresh()
    candidates = [path for path in index.rows if path.endswith((".py", ".js", ".ts"))]
    rng = random.Random(7)
    updates, maps = [], []
    for path in rng.sample(candidates, 7):
        full = tree / path
        original = full.read_bytes()
        try:
            full.write_bytes(original + b"\n\ndef shipmate_bench_probe():\n    return 1\n")
            started = time.perf_counter()
            index.update([path])
            updates.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.repo_map(QUERY, (), 2048)
            maps.append(time.perf_counter() - started)
        finally:
            full.write_bytes(original)
            index.update([path])
    return statistics.median(updates), statistics.median(maps)


def measure(name: str, tree: Path, runs: int) -> None:
    tree = tree.resolve()
    jobs = floor_jobs(tree)
    files = len(jobs)
    floors, floor_cpus, ratios, cpu_ratios = [], [], [], []
    colds, cpus, inside, warms, mapping, rss = [], [], [], [], [], []
    for _ in range(runs):
        floor, floor_cpu = raw_floor(jobs)  # beside each cold build: the load moves
        floors.append(floor)
        floor_cpus.append(floor_cpu)
        with tempfile.TemporaryDirectory() as cache:
            before = children_cpu()  # the workers' CPU counts too: they are waited for
            seconds, peak, out = shipmate("index", "--json", cache=Path(cache), cwd=tree)
            cpus.append(children_cpu() - before)
            colds.append(seconds)
            ratios.append(seconds / floor)
            cpu_ratios.append(cpus[-1] / floor_cpu)
            inside.append(json.loads(out)["seconds"])
            rss.append(peak)
            for _ in range(3):
                seconds, peak, out = shipmate("index", "--json", cache=Path(cache), cwd=tree)
                assert json.loads(out)["parsed"] == 0
                warms.append(seconds)
                seconds, peak, out = shipmate(
                    "map",
                    "--query",
                    QUERY,
                    "--tokens",
                    "2048",
                    "--json",
                    cache=Path(cache),
                    cwd=tree,
                )
                mapping.append(seconds)
                rss.append(peak)
    with tempfile.TemporaryDirectory() as cache:
        shipmate("index", cache=Path(cache), cwd=tree)
        update, next_map = save_latency(tree, Path(cache))
    cold, floor, floor_cpu = (statistics.median(v) for v in (colds, floors, floor_cpus))
    print(f"\n{name}: {files:,} files with a tags query, {runs} cold runs")
    print(f"  raw floor (parse + tags query, 1 process)  {floor:7.2f} s")
    print(
        f"  cold build (shipmate index)                {cold:7.2f} s   "
        f"{statistics.median(ratios):.2f} x floor (median of each run's ratio to the floor "
        "measured just before it)"
    )
    cpu = statistics.median(cpus)
    print(
        f"    CPU of all its processes                 {cpu:7.2f} s   "
        f"{statistics.median(cpu_ratios):.2f} x the floor's {floor_cpu:.2f} s CPU"
    )
    built = statistics.median(inside)
    print(
        f"    of which building, without start-up      {built:7.2f} s   {built / floor:.2f} x floor"
    )
    print(f"  warm start (shipmate index)                {statistics.median(warms):7.3f} s")
    print(f"  warm map --query --tokens 2048             {statistics.median(mapping):7.3f} s")
    print(f"  one file saved: update()                   {update * 1000:7.1f} ms")
    print(f"  one file saved: next map                   {next_map:7.3f} s")
    print(f"  peak RSS (largest process)                 {max(rss):7.0f} MB")


def phases(tree: Path) -> None:
    """Where a cold build's work goes: each stage of it run over the whole tree in this one
    process, in CPU seconds (the pool spreads the per-file stages over the cores; the
    others run in the parent)."""
    import hashlib
    import marshal
    from collections import defaultdict

    from tree_sitter import QueryCursor

    from agent.index.build import BATCH
    from agent.index.files import candidate_files, unreadable_reason
    from agent.index.languages import detect, tools_for
    from agent.index.model import Assembly, part
    from agent.index.store import Store
    from agent.index.tags import extract, words

    spent: dict[str, float] = defaultdict(float)

    def timed(stage: str, work: Callable[..., Any], *args: Any) -> Any:
        started = time.process_time()
        result = work(*args)
        spent[stage] += time.process_time() - started
        return result

    tree = tree.resolve()
    paths, _ = timed("list the files (git)", candidate_files, tree)
    timed(
        "load grammars and queries", lambda: [tools_for(name) for name in ("python", "javascript")]
    )
    assembly = Assembly(paths)
    blobs: dict[str, bytes] = {}
    batch: list[tuple[int, str, str | None, Any]] = []  # as the pool's workers batch them
    for number, path in enumerate(paths):
        data = timed("read", (tree / path).read_bytes)
        digest = timed("hash", lambda d: hashlib.blake2b(d, digest_size=16).hexdigest(), data)
        if timed("sniff (binary, minified)", unreadable_reason, data):
            continue
        language = detect(path, data[:256])
        name = language.name if language else None
        tools = tools_for(name) if name else None
        if tools is not None:
            syntax = timed("parse", tools.parser.parse, data)
            timed(
                "tags query",
                lambda query, node: QueryCursor(query).captures(node),
                tools.query,
                syntax.root_node,
            )
            del syntax
            timed("words of code files", words, data)
        else:
            timed("words of text files", words, data)
        tags = timed("extract (all of it, parse included)", extract, data, name)
        blobs[digest] = timed("marshal the tags", marshal.dumps, tags)
        batch.append((number, digest, name, tags))
        if len(batch) == BATCH:
            timed(
                "merge the shares (parent)",
                assembly.merge,
                timed("a batch's share of the model", part, batch),
            )
            batch = []
    timed(
        "merge the shares (parent)",
        assembly.merge,
        timed("a batch's share of the model", part, batch),
    )
    model = timed("link and encode the model (parent)", assembly.model)
    snapshot = timed("snapshot (parent)", model.dump)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "index.sqlite")
        repo = store.repo_id(tree)
        timed("store writes (parent)", store.save, repo, {}, [], blobs)
        timed("store writes (parent)", store.save_snapshot, repo, snapshot)
        store.close()
    floor = spent["parse"] + spent["tags query"]
    words_spent = spent["words of code files"] + spent["words of text files"]
    extra = spent.pop("extract (all of it, parse included)") - floor - words_spent
    spent["extract beyond parse, query, words"] = extra
    print(f"\n{tree.name}: {len(paths):,} files, CPU seconds by stage (one process), and")
    print("against parsing and the tags query (as the floor, with Shipmate's fuller queries)")
    for stage, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {stage:40s} {seconds:7.2f} s   {seconds / floor:5.2f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="measure this tree instead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phases", action="store_true", help="where a cold build's CPU goes")
    args = parser.parse_args()
    os.chdir(Path(__file__).resolve().parent.parent)
    if args.phases:
        phases(args.tree or fetch_git_sympy() or fetch_sympy())
        return
    if args.tree:
        measure(args.tree.name, args.tree, args.runs)
        return
    measure("SymPy 1.14.0 wheel", fetch_sympy(), args.runs)
    git_tree = fetch_git_sympy()
    if git_tree is not None:
        measure(f"SymPy git tree {git_tree.name.split('@')[-1]}", git_tree, args.runs)
    if shutil.which("npm"):
        measure("three.js 0.187.0 src/", fetch_three(), args.runs)


if __name__ == "__main__":
    main()
