"""``shipmate watch`` as a user runs it: a real process beside a real git repository,
saves made the way an editor makes them, the scripted model over HTTP, answers on stdin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import REPO_ROOT, git
from scripted_llm import Reply, ScriptedLLM, tool

APP = """def total(prices):
    result = 0
    for price in prices:
        result += price
    return result
"""
WATCHING = "watching for AI comments"
READY = "watching…"  # printed when a request is done


class Watching:
    """A ``shipmate watch`` process; its output gathered by a thread, to wait on."""

    def __init__(self, repo: Path, llm: ScriptedLLM, *flags: str) -> None:
        model = ["--model", "openai/scripted", "--api-base", llm.url]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent", "watch", *model, *flags],
            cwd=repo,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OPENAI_API_KEY": "k"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for chunk in iter(lambda: self.process.stdout.read(1), ""):  # type: ignore[union-attr]
            with self.lock:
                self.output += chunk
                self.lock.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 90) -> str:
        """The output once ``text`` came ``count`` times. A start waits for litellm's import,
        which took over 30 s on a busy two-core machine."""
        with self.lock:
            if not self.lock.wait_for(lambda: self.output.count(text) >= count, timeout):
                raise AssertionError(f"{text!r} never came; the output:\n{self.output}")
            return self.output

    def answer(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=20)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text(APP)
    (root / "ui.js").write_text("function show(x) {\n  return x * 2;\n}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


@pytest.fixture
def watching(project: Path, llm: ScriptedLLM) -> Iterator[Watching]:
    shipmate = Watching(project, llm)
    shipmate.wait_for(WATCHING)
    yield shipmate
    shipmate.stop()


def save(path: Path, text: str) -> None:
    """As editors save: a new file renamed over the old one."""
    temporary = path.with_name(path.name + ".swp~")
    temporary.write_text(text)
    temporary.replace(path)


def user_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


def test_one_session_of_saves_edits_answers_and_leaves_the_users_edits(
    watching: Watching, project: Path, llm: ScriptedLLM
) -> None:
    """Requests one after another in one ``watch`` process, as a user makes them (each start
    costs seconds of litellm's import): each step looks only at the output since it began."""
    # A saved AI comment is one request; the edit lands and the comment goes.
    fixed = APP.replace("    result = 0\n    for price in prices:\n        result += price\n", "")
    fixed = fixed.replace("return result", "return sum(prices)")
    asked = APP.replace("    result = 0\n", "    # use sum() here AI!\n    result = 0\n")
    llm.add(
        Reply(calls=[tool("read_file", path="app.py")]),
        Reply(calls=[tool("write_file", path="app.py", content=fixed)]),
        Reply(text="app.py:2: total() now uses sum()."),
    )
    save(project / "app.py", asked)
    output = watching.wait_for(READY)
    assert (project / "app.py").read_text() == fixed
    assert len(llm.requests) == 3
    request = user_messages(llm.requests[0])[-1]
    assert "app.py:2" in request and "use sum() here AI!" in request
    assert ">2 |     # use sum() here AI!" in request  # the comment, marked, in its code
    assert "for price in prices:" in request
    assert "remove that AI" in request  # told to take the comment away
    assert "▶ 1 AI comment: app.py:2" in output
    assert "-    result = 0" in output and "+    return sum(prices)" in output  # the diff
    assert "app.py:2: total() now uses sum()." in output
    assert "success · 3 turns" in output and "$" in output
    assert "still there" not in output
    time.sleep(1.0)  # the agent's own save came and went: no new request
    assert len(llm.requests) == 3

    # A question is answered and changes nothing.
    start = len(watching.output)
    asked = "function show(x) {\n  // why double it? AI?\n  return x * 2;\n}\n"
    llm.add(Reply(text="It doubles x because the chart counts half-steps."))
    save(project / "ui.js", asked)
    output = watching.wait_for(READY, count=2)[start:]
    assert "It doubles x because the chart counts half-steps." in output
    assert (project / "ui.js").read_text() == asked
    assert len(llm.requests) == 4
    assert "question (AI?)" in user_messages(llm.requests[3])[-1]
    assert "still there" not in output  # a question's comment stays, as asked

    # A save without a new AI comment triggers nothing; the next request is about the next
    # comment alone.
    save(project / "app.py", APP + "\n\ndef tax(x):\n    return x * 0.2  # AI is not a request\n")
    time.sleep(1.0)
    assert len(llm.requests) == 4
    llm.add(Reply(text="Nothing to do."))
    save(project / "ui.js", "// rename show AI?\nfunction show(x) {\n  return x * 2;\n}\n")
    watching.wait_for(READY, count=3)
    assert len(llm.requests) == 5
    request = user_messages(llm.requests[4])[-1]
    assert "ui.js:1" in request and "app.py:" not in request.split("\n")[0]

    # Comments in one batch of saves form one request.
    llm.add(Reply(text="Both answered."))
    save(project / "app.py", "# what is this for? AI?\n" + APP)
    save(project / "ui.js", "/* who calls this? AI? */\nfunction show(x) {\n  return x;\n}\n")
    watching.wait_for(READY, count=4)
    assert len(llm.requests) == 6
    request = user_messages(llm.requests[5])[-1]
    assert "app.py:1" in request and "ui.js:1" in request

    # An edit the user made meanwhile is not overwritten.
    start = len(watching.output)
    asked = "# rename total to sum_prices AI!\n" + APP
    mine = asked.replace("result = 0", "result = 0  # the user's own change")

    def user_saves_meanwhile(body: dict) -> None:
        if len(llm.requests) == 8:  # after the agent read the file, before its edit
            save(project / "app.py", mine)
            time.sleep(0.5)  # the save is noticed while the agent works

    llm.answer = user_saves_meanwhile  # type: ignore[assignment]
    llm.add(
        Reply(calls=[tool("read_file", path="app.py")]),
        Reply(calls=[tool("write_file", path="app.py", content=APP.replace("total", "sum_x"))]),
        Reply(text="The file changed under me; I left it."),
    )
    save(project / "app.py", asked)
    output = watching.wait_for(READY, count=5)[start:]
    assert (project / "app.py").read_text() == mine
    assert "changed on disk since you last read it" in llm.requests[8]["messages"][-1]["content"]
    assert "✗ app.py changed on disk" in output
    assert "! still there: app.py:1 rename total to sum_prices AI!" in output
    # The user's save during the turn adds no new comment: no request, but the next one
    # names the file as saved meanwhile.
    time.sleep(1.0)
    assert len(llm.requests) == 9
    llm.add(Reply(text="ok"))
    save(project / "ui.js", "// and this? AI?\n" + (project / "ui.js").read_text())
    watching.wait_for(READY, count=6)
    assert "the user saved app.py" in user_messages(llm.requests[9])[-1]
    assert "Traceback" not in watching.output


def test_an_approval_is_asked_on_the_terminal_and_ctrl_c_while_asking_stops_cleanly(
    watching: Watching, project: Path, llm: ScriptedLLM
) -> None:
    llm.add(
        Reply(calls=[tool("run_command", command="touch made-by-agent.txt")]),
        Reply(text="Made it."),
    )
    save(project / "ui.js", "// make the file AI!\n" + (project / "ui.js").read_text())
    output = watching.wait_for("[y/n/a]")
    assert "? $ touch made-by-agent.txt" in output
    watching.answer("y")
    watching.wait_for(READY)
    assert (project / "made-by-agent.txt").exists()
    # The comment was not removed: said, and the file left as the user saved it.
    assert "! still there: ui.js:1 make the file AI!" in watching.output
    assert (project / "ui.js").read_text().startswith("// make the file AI!\n")

    # Ctrl+C while the next question waits for its answer stops cleanly (one process for
    # both: each start costs seconds of litellm's import).
    llm.add(Reply(calls=[tool("run_command", command="touch never.txt")]))
    save(project / "app.py", "# make never.txt AI!\n" + APP)
    watching.wait_for("[y/n/a]", count=2)
    assert watching.stop() == 130
    output = watching.output
    assert "Traceback" not in output
    assert "the session is kept: shipmate watch --resume" in output
    assert not (project / "never.txt").exists()


def test_ctrl_c_when_idle_exits_with_0(project: Path, llm: ScriptedLLM) -> None:
    shipmate = Watching(project, llm)
    shipmate.wait_for(WATCHING)
    assert shipmate.stop() == 0
    assert "Traceback" not in shipmate.output
    assert shipmate.output.rstrip().endswith("stopped")


def test_continue_goes_on_with_the_session(project: Path, llm: ScriptedLLM) -> None:
    first = Watching(project, llm)
    first.wait_for(WATCHING)
    llm.add(Reply(text="First answer."))
    save(project / "app.py", "# first question AI?\n" + APP)
    first.wait_for(READY)
    assert first.stop() == 0
    second = Watching(project, llm, "--continue")
    second.wait_for(WATCHING)
    llm.add(Reply(text="Second answer."))
    save(project / "ui.js", "// second question AI?\n" + (project / "ui.js").read_text())
    output = second.wait_for(READY)
    assert second.stop() == 0
    assert "resuming session" in output
    sent = user_messages(llm.requests[1])
    assert any("first question AI?" in message for message in sent)
    assert "second question AI?" in sent[-1]
