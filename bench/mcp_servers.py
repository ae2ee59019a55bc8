"""How much an MCP server costs a session: its start, and each tool call.

Measured with the test suite's demo server (the official SDK, in a process of its own),
as Shipmate runs one: through the launcher, over stdio. Medians of several runs.

    python bench/mcp_servers.py [--runs 5] [--calls 50]

Printed: the SDK's import in Shipmate's process (paid once, in a thread, only when a
server is configured), a server's start to ready (process, handshake, listing), a tool
call's round trip, and the same for a process that only starts Python, as a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEMO = ROOT / "tests" / "mcp" / "demo_server.py"


def sdk_import() -> float:
    code = "import time; t = time.perf_counter(); import mcp; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(done.stdout)


def python_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    return time.perf_counter() - started


async def server(calls: int) -> tuple[float, list[float]]:
    from agent.mcp.config import Declared, McpServer
    from agent.mcp.connection import Connection

    declared = Declared(
        name="demo", server=McpServer(command=sys.executable, args=[str(DEMO)]), source="user"
    )
    with tempfile.TemporaryDirectory() as logs:
        connection = Connection(declared, ROOT, Path(logs))
        started = time.perf_counter()
        connection.start()
        assert await connection.wait(60), connection.problem
        ready = time.perf_counter() - started
        rounds = []
        for number in range(calls):
            began = time.perf_counter()
            await connection.call_tool("get_issue", {"number": number})
            rounds.append(time.perf_counter() - began)
        await connection.close()
    return ready, rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    import mcp  # noqa: F401  (the client side's import, out of the server figures)

    imports = [sdk_import() for _ in range(args.runs)]
    floors = [python_start() for _ in range(args.runs)]
    readies, rounds = [], []
    for _ in range(args.runs):
        ready, calls = asyncio.run(server(args.calls))
        readies.append(ready)
        rounds += calls
    rounds.sort()
    print(f"MCP SDK import (once per process, in a thread)  {statistics.median(imports):6.3f} s")
    print(f"Python start, nothing imported (a floor)        {statistics.median(floors):6.3f} s")
    print(f"demo server: start to ready (stdio)             {statistics.median(readies):6.3f} s")
    p95 = rounds[int(len(rounds) * 0.95)]
    median = statistics.median(rounds) * 1000
    print(f"tool call round trip, median / p95              {median:6.1f} / {p95 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
