"""A long session in the TUI: does adding a message stay quick, and memory bounded?

The app runs headless (``App.run_test``, 120x40) against the scripted model server, and a
session of 1,000 messages with 500 tool calls is built through its real ``_show`` path from
synthetic core events: each exchange is a user message, a reply streamed in 20-character
deltas (~1 kB of Markdown: a list and a code block), and a ``read_file`` call started and
finished. At 0, 250, 500 and 1,000 messages it prints the time to add each part of one more
exchange (from its first event to the screen laid out and drawn again with it; medians of
``--samples`` exchanges), the widgets in the DOM and the process RSS grown since the app was
ready (each variant runs in its own process).

Baseline, in the same run: the view as it was before pruning came back on scrolling (600
blocks kept, dropped for good, a layout per change), up to ``--baseline-upto`` messages; it
gets slow past that. Replies are the same one-widget Markdown in both: before that change a
reply was a Textual ``Markdown`` of a widget per block, ~0.4 s per added message at 300
blocks (see ``bench/tui_stream.py`` for what that cost while streaming).

    python bench/tui_session.py [--messages 1000] [--samples 7] [--baseline-upto 250]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from scripted_llm import ScriptedLLM  # noqa: E402

REPLY = """I looked at `slugify()` in **textutil.py**: it drops every non-ASCII letter.

1. Normalise with `unicodedata.normalize("NFKD", text)` first.
2. Keep letters and digits, join the rest with `-`.

```python
def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
```

The test `test_unicode` should pass now; I ran the whole file and all 4 tests pass.
"""
OUTPUT = "".join(f"{line:5}\tdef helper_{line}(value):\n" for line in range(1, 41))
CHECKPOINTS = (0, 250, 500, 1000)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def exchange(app: Any, number: int) -> dict[str, float]:
    """One user message, one streamed reply, one tool call, through the app's own path;
    the seconds each took until the screen was drawn with it."""
    from agent.events import AssistantMessage, TextDelta, ToolFinished, ToolStarted
    from agent.tui.widgets.user_message import UserMessage

    took = {}
    started = time.perf_counter()
    await app.view.add(UserMessage(f"message {number}: why does slugify drop accents?"))
    await drawn(app)
    took["user message"], started = time.perf_counter() - started, time.perf_counter()
    for start in range(0, len(REPLY), 20):
        await app._show(TextDelta(text=REPLY[start : start + 20]))
    await app._show(AssistantMessage(text=REPLY))
    await drawn(app)
    took["streamed reply"], started = time.perf_counter() - started, time.perf_counter()
    call = f"call_{number}"
    await app._show(ToolStarted(call_id=call, name="read_file", kind="read", summary="textutil.py"))
    finished = ToolFinished(
        call_id=call, name="read_file", status="ok", summary="40 lines", output=OUTPUT
    )
    await app._show(finished)
    await drawn(app)
    took["tool call"] = time.perf_counter() - started
    app.blocks.clear()  # as at the end of a turn
    return took


async def drawn(app: Any) -> None:
    """Until the screen is laid out and drawn with everything added."""
    for _ in range(3):
        await asyncio.sleep(0)
    app.screen._on_timer_update()


async def measure(server: ScriptedLLM, workspace: Path, messages: int, samples: int) -> list[str]:
    from agent.config import Settings
    from agent.tui.app import Launch, ShipmateApp

    settings = Settings(model="openai/scripted", api_base=server.url, max_retries=0)
    app = ShipmateApp(Launch(workspace=workspace, settings=settings))
    rows = []
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        gc.collect()
        start_rss = rss_mb()
        number = 0
        for checkpoint in [c for c in CHECKPOINTS if c <= messages]:
            while 2 * number < checkpoint:
                await exchange(app, number)
                number += 1
                if number % 5 == 0:
                    await pilot.pause()  # let the app breathe, as a person's session does
            await pilot.pause()
            times: dict[str, list[float]] = {}
            for _ in range(samples):
                for part, seconds in (await exchange(app, number)).items():
                    times.setdefault(part, []).append(seconds * 1000)
                number += 1
                await pilot.pause()
            gc.collect()
            widgets = len(list(app.screen.walk_children()))
            medians = " · ".join(
                f"{part} {statistics.median(ms):5.1f}" for part, ms in times.items()
            )
            rows.append(
                f"{checkpoint:5,} messages: {medians} ms · {widgets:5,} widgets"
                f" · RSS +{rss_mb() - start_rss:5.1f} MB"
            )
            print("   " + rows[-1], file=sys.__stdout__, flush=True)
        await app.view.clear()
    return rows


async def ready(pilot: Any) -> None:
    for _ in range(1500):
        if pilot.app.conversation is not None:
            return
        await pilot.pause(0.02)
    sys.exit("the app never got ready")


def before_this_change() -> None:
    """The view as it was: its ``add`` then (600 blocks kept, dropped for good; a layout
    per change)."""
    from agent.tui.widgets.conversation_view import ConversationView

    async def add(self: Any, widget: Any) -> Any:
        await self.mount(widget)
        extra = len(self.children) - 600
        if extra > 0:
            await self.remove_children(list(self.children[:extra]))
        return widget

    ConversationView.add = add  # type: ignore[method-assign]


@contextlib.contextmanager
def isolated_home() -> Iterator[Path]:
    """A temporary HOME (the session store goes there, not to the user's home) and an
    empty workspace in it."""
    with tempfile.TemporaryDirectory() as temp:
        os.environ["HOME"] = temp
        for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[name] = str(Path(temp) / name.lower())
        workspace = Path(temp) / "ws"
        workspace.mkdir()
        yield workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--baseline-upto", type=int, default=250)
    parser.add_argument("--variant", choices=("this", "before"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant is None:  # each in its own process: RSS growth is not shared
        print(f"a session of {args.messages:,} messages, one tool call per 2 messages (120x40)")
        print(" this view (pruning, blocks back on scrolling up):", flush=True)
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--variant", "this"], check=True)
        if args.baseline_upto >= 0:
            print(" baseline: the view before (600 blocks kept, dropped for good):")
            command = [sys.executable, __file__, *sys.argv[1:], "--variant", "before"]
            subprocess.run(command, check=True)
        return
    sys.stdout.flush()
    server = ScriptedLLM().start()
    with isolated_home() as workspace:
        if args.variant == "before":
            before_this_change()
        messages = args.messages if args.variant == "this" else args.baseline_upto
        asyncio.run(measure(server, workspace, messages, args.samples))
    server.stop()


if __name__ == "__main__":
    main()
