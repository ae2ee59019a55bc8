"""An MCP server for the tests, written with the official SDK, run as its own process.

``python demo_server.py [stdio|http PORT|sse PORT] [--hang] [--fail] [--linger]``. It
writes its PID to ``$DEMO_PID_FILE`` (when set) so tests can check the process is gone
after Shipmate is.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

if pid_file := os.environ.get("DEMO_PID_FILE"):
    with open(pid_file, "a") as handle:
        handle.write(f"{os.getpid()}\n")
if "--fail" in sys.argv:  # before the SDK's import: a server that fails at once
    print("demo: cannot start, the database is missing", file=sys.stderr)
    sys.exit(3)
if "--hang" in sys.argv:
    time.sleep(3600)
if "--linger" in sys.argv:  # outlives its stdin, as a careless server does
    threading.Thread(target=time.sleep, args=(3600,)).start()

from mcp.server.mcpserver import Image, MCPServer
from mcp_types import ToolAnnotations

app = MCPServer("demo")


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def get_issue(number: int) -> str:
    """Fetch an issue of the tracker by its number."""
    return f"Issue #{number}: the export button does nothing on Safari."


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def env_report() -> str:
    """The names of the environment variables the server sees."""
    return json.dumps(sorted(os.environ))


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def getenv(variable: str) -> str:
    """One environment variable's value."""
    return os.environ.get(variable, "(unset)")


@app.tool()
def create_note(text: str) -> str:
    """Add a note to the tracker."""
    return f"noted: {text}"


@app.tool(annotations=ToolAnnotations(destructiveHint=True))
def delete_repo(repo: str) -> str:
    """Delete a repository for good."""
    return f"deleted {repo}"


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def crash() -> str:
    """Exit at once, as a crashing server does."""
    os._exit(3)


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def big() -> str:
    """Five megabytes of text."""
    return "".join(f"line {n} " + "x" * 90 + "\n" for n in range(52_000))


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def odd(when: str = "", tags: list[str] | None = None) -> str:
    """A tool whose advertised schema has odd types."""
    return f"odd {when} {tags}"


# A 1×1 PNG, red.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc000000301010018dd8db40000000049454e44ae426082"
)


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def screenshot() -> Image:
    """A screenshot of the page."""
    return Image(data=PIXEL, format="png")


@app.tool()
def broken() -> str:
    """A tool whose schema refers to a definition it lacks."""
    return "never listed"


app._tool_manager.get_tool("odd").parameters = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"when": {"type": "date"}, "tags": {"type": "array"}},
}
app._tool_manager.get_tool("broken").parameters = {
    "type": "object",
    "properties": {"item": {"$ref": "#/$defs/Missing"}},
}


@app.prompt()
def review(topic: str) -> str:
    """Ask for a careful review."""
    return f"Please review {topic} carefully, and list the risks first."


@app.resource("notes://today")
def today() -> str:
    """Today's notes."""
    return "Ship the MCP support."


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "sse":
        app.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()


if __name__ == "__main__":
    main()
