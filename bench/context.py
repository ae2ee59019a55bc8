"""A long session with and without compaction: what each request carries (printed, not timed).

The test suite's 60-turn session (12 messages, each reading four ~900-token modules and then
answering) against the scripted model server on 127.0.0.1, with a context window of 8,000
tokens: once with compaction (``compact_at`` 0.8) and once without (``compact_at`` 0; the
scripted server accepts any size, a real one would refuse). For each: tokens per agent
request (max and total, counted as Shipmate counts them), the summary calls and what they
carried, and the wall time. Then what token counting costs on the final history, cold
(litellm's counter) and warm (the per-message cache).

    python bench/context.py [--window 8000] [--tasks 12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


async def session(folder: Path, tasks: int, window: int, compact_at: float) -> dict[str, Any]:
    from agent.context.tokens import TokenCounter
    from agent.events import Compacted

    from helpers import git, make_agent, module_text
    from scripted_llm import Reply, ScriptedLLM, tool

    repo = folder / f"repo-{compact_at}"
    repo.mkdir()
    for number in range(tasks * 4):
        (repo / f"mod_{number:02}.py").write_text(module_text(number))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "modules")
    prompt = "You write the working notes"

    def answer(body: dict[str, Any]) -> Reply | None:
        if body["messages"][0]["content"].startswith(prompt):
            return Reply(text="SUMMARY: the developer wants every module explained.")
        return None

    llm = ScriptedLLM(model="scripted").start()
    llm.answer = answer
    for task in range(tasks):
        for read in range(4):
            path = f"mod_{task * 4 + read:02}.py"
            llm.add(Reply(text="Reading.", calls=[tool("read_file", path=path)]))
        llm.add(Reply(text=f"Task {task} done."))
    conversation = make_agent(llm, repo, context_window=window, compact_at=compact_at)
    compactions = 0
    started = time.perf_counter()
    for task in range(tasks):
        async for event in conversation.send(f"task {task}: explain four modules"):
            compactions += isinstance(event, Compacted)
    wall = time.perf_counter() - started
    llm.stop()
    counter = TokenCounter(conversation.llm.model)
    agent_calls, summary_calls = [], []
    for body in llm.requests:
        size = counter.request(body["messages"], body.get("tools", []))
        is_summary = body["messages"][0]["content"].startswith(prompt)
        (summary_calls if is_summary else agent_calls).append(size)
    cold = TokenCounter(conversation.llm.model)
    history = conversation.messages
    began = time.perf_counter()
    cold.messages(history)
    cold_ms = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    cold.messages(history)
    warm_ms = (time.perf_counter() - began) * 1000
    return {
        "agent calls": len(agent_calls),
        "max tokens sent": max(agent_calls),
        "total tokens sent": sum(agent_calls),
        "over the window": sum(size > window for size in agent_calls),
        "compactions": compactions,
        "summary calls": len(summary_calls),
        "summary tokens sent": sum(summary_calls),
        "wall s": round(wall, 2),
        "messages stored": len(history),
        "count history cold ms": round(cold_ms, 1),
        "count history warm ms": round(warm_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=8_000)
    parser.add_argument("--tasks", type=int, default=12)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="shipmate-bench-context-"))
    for name, sub in (("HOME", ""), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        os.environ[name] = str(folder / sub)
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["GIT_CEILING_DIRECTORIES"] = str(folder)
    with_it = asyncio.run(session(folder, args.tasks, args.window, 0.8))
    without = asyncio.run(session(folder, args.tasks, args.window, 0.0))
    print(f"{args.tasks * 5}-turn session, context window {args.window:,} tokens\n")
    print(f"{'':<24} {'compact_at 0.8':>16} {'compact_at 0':>16}")
    for key in with_it:
        print(f"{key:<24} {with_it[key]!s:>16} {without[key]!s:>16}")


if __name__ == "__main__":
    main()
