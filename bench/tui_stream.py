"""Typing while a long reply streams: does the input still echo at once, and does the screen
keep up with the model?

The app runs headless (``App.run_test``, 120x40) against the scripted model server, which
streams a 2,000-token reply (~8,000 characters of Markdown: headings, lists, code; a token
is a 4-character piece) at 100 and at 2,000 tokens a second. Meanwhile a key is typed into
the input every 50 ms; keystroke-to-echo is the time from the driver receiving the key to
the first frame drawn with it in the input (frames: the screen's compositor refreshes, drawn but
not written in headless mode). Printed: median and p95 echo, the longest gap between frames
while streaming, and how long after the server sent its last piece the whole reply was on
screen (in the Markdown and drawn).

A short first turn comes before (the first one loads the tokenizer and the rest of litellm,
a one-off stall). Baseline, in the same run: the same typing into the idle app.

    python bench/tui_stream.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tui_session import isolated_home  # noqa: E402

from scripted_llm import Reply, ScriptedLLM  # noqa: E402

TOKENS = 2000
TOKEN = 4  # characters a piece
KEY_EVERY = 0.05
SECTION = """## Step {n}: normalise the input

The slug drops accents because `slugify()` only keeps ASCII letters; a title such as
*Crème brûlée* loses two of its letters instead of keeping them without accents.

- read the text as **NFKD**, so accents become separate marks
- drop the marks, keep letters and digits
- join the rest with `-`, trimmed at both ends

```python
def slugify_{n}(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
```

"""


def reply_text() -> str:
    text, number = "", 0
    while len(text) < TOKENS * TOKEN:
        text += SECTION.format(n=number)
        number += 1
    return text[: TOKENS * TOKEN]


class Frames:
    """When the screen drew its frames, and what the input held in each."""

    def __init__(self, app: Any) -> None:
        self.times: list[float] = []
        self.typed: list[str] = []
        draw = app.screen._compositor_refresh

        def counted() -> None:
            draw()
            self.times.append(time.monotonic())
            self.typed.append(app.input.text)

        app.screen._compositor_refresh = counted

    def after(self, moment: float) -> float | None:
        return next((frame for frame in self.times if frame >= moment), None)

    def showing(self, text: str, since: int) -> float | None:
        """The first frame from number ``since`` on whose input held ``text``."""
        for number in range(since, len(self.times)):
            if self.typed[number] == text:
                return self.times[number]
        return None


async def typing(app: Any, frames: Frames, stop: asyncio.Event) -> list[float]:
    """Keys every ``KEY_EVERY`` until ``stop``; the echo of each, in seconds."""
    from textual.events import Key

    echoes = []
    while not stop.is_set():
        expected = app.input.text + "x"
        since = len(frames.times)
        posted = time.monotonic()
        app._driver.send_message(Key("x", "x"))  # as the terminal driver delivers keys
        while (drawn := frames.showing(expected, since)) is None:
            await asyncio.sleep(0.001)
        echoes.append(drawn - posted)
        await asyncio.sleep(max(0.0, posted + KEY_EVERY - time.monotonic()))
    app.input.clear()
    return echoes


async def measure(server: ScriptedLLM, workspace: Path, rates: list[int], runs: int) -> None:
    from agent.config import Settings
    from agent.tui.app import Launch, ShipmateApp

    settings = Settings(model="openai/scripted", api_base=server.url, max_retries=0)
    app = ShipmateApp(Launch(workspace=workspace, settings=settings))
    text = reply_text()
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(1500):
            if app.conversation is not None:
                break
            await pilot.pause(0.02)
        app.input.cursor_blink = False
        server.add(Reply(text="A first turn: the lazy imports and the tokenizer load here."))
        app.input.text = "warm up"
        await pilot.press("enter")
        while app.busy or not server.finished_times:
            await asyncio.sleep(0.01)
        frames = Frames(app)
        stop = asyncio.Event()
        idle = asyncio.create_task(typing(app, frames, stop))
        await asyncio.sleep(3.0)
        stop.set()
        bare = await idle
        print(f"  idle app (baseline): echo median {ms(statistics.median(bare))}, p95 {p95(bare)}")
        for rate in rates:
            echoes: list[float] = []
            gaps: list[float] = []
            lags: list[float] = []
            for _ in range(runs):
                server.add(Reply(text=text, chunk=TOKEN, rate=rate, completion_tokens=TOKENS))
                await app.view.clear()
                sent = len(server.finished_times)
                app.input.text = f"explain it, at {rate} tokens a second"
                await pilot.press("enter")
                while app.streaming is None:
                    await asyncio.sleep(0.005)
                stop = asyncio.Event()
                typed = asyncio.create_task(typing(app, frames, stop))
                first = len(frames.times)
                while len(server.finished_times) == sent or not whole(app, text):
                    await asyncio.sleep(0.002)
                complete = time.monotonic()
                while (shown := frames.after(complete)) is None:
                    await asyncio.sleep(0.002)
                stop.set()
                echoes += await typed
                lags.append(shown - server.finished_times[-1])
                drawn = frames.times[first:]
                gaps += [later - earlier for earlier, later in itertools.pairwise(drawn)]
                while app.busy:
                    await asyncio.sleep(0.01)
            print(
                f"  {rate:5,} tokens/s: echo median {ms(statistics.median(echoes))},"
                f" p95 {p95(echoes)} ({len(echoes)} keys) · longest gap between frames"
                f" {ms(max(gaps))} · whole reply on screen {ms(statistics.median(lags))}"
                f" after the server's last piece (median of {runs})"
            )


def whole(app: Any, text: str) -> bool:
    """The whole reply is in the conversation (a long one streams as several segments; the
    view was cleared before it, so its replies are all this one's)."""
    from agent.tui.widgets.assistant_text import AssistantText

    return "".join(widget.source for widget in app.view.query(AssistantText)) == text


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def p95(values: list[float]) -> str:
    return ms(sorted(values)[int(0.95 * (len(values) - 1))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 2000])
    args = parser.parse_args()
    server = ScriptedLLM().start()
    with isolated_home() as workspace:
        print(
            f"a {TOKENS:,}-token reply streamed while a key is typed every {KEY_EVERY * 1000:.0f}"
            " ms (headless, 120x40)"
        )
        asyncio.run(measure(server, workspace, args.rates, args.runs))
    server.stop()


if __name__ == "__main__":
    main()
