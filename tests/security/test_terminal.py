"""Untrusted text must never drive the user's terminal, nor reach the model as escapes.

A model's text, a tool call's arguments, a repository's file names and source lines, and a
command's output may carry escape sequences that write the clipboard (OSC 52), set the window
title, plant links (OSC 8), clear the screen, or bidi controls that reorder what is read.
Whatever Shipmate prints shows them as literal text; what the model gets has them removed.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from agent.terminal import SafeStream, for_model, json_safe, visible, write_trusted
from tools.base import ToolContext
from tools.shell import RunCommand

from helpers import git, run_cli
from scripted_llm import Fault, Reply, ScriptedLLM, tool

# What a terminal would act on: C0 controls but newline and tab, DEL, C1, bidi controls and
# the Unicode line and paragraph separators.
ACTIVE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)

CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # OSC 52 ended by BEL: writes the clipboard
TITLE = "\x1b]0;pwned\x1b\\"  # OSC 0 ended by ST: sets the window title
LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor home
HIDE = "\x1b[8m"  # concealed text
RESET = "\x1bc"  # full terminal reset
EIGHT_BIT = "\x9b2J\x9d0;eight\x9c"  # the same, as C1 controls
REORDER = "\u202eexe.txt\u202c"  # right-to-left override
OVERWRITE = "rm -rf ~\r# harmless"  # \r: the second part hides the first
EVERYTHING = CLIPBOARD + TITLE + LINK + CLEAR + HIDE + RESET + EIGHT_BIT + REORDER + OVERWRITE


def assert_inert(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in ACTIVE.findall(text)})
    assert not found, f"control characters reached the terminal: {found}"


def model_flags(llm: ScriptedLLM) -> list[str]:
    return ["--model", "scripted", "--api-base", llm.url]


def hostile_script() -> list[Reply | Fault]:
    """A retry reason, streamed text, tool arguments and an answer, all carrying escapes."""
    error = json.dumps({"error": {"message": f"overloaded {CLIPBOARD}{CLEAR}", "type": "x"}})
    plan = [{"step": f"step {TITLE}{REORDER}", "status": "in_progress"}]
    return [
        Fault("status", status=503, retry_after=0.1, body=error),
        Reply(
            text=f"Looking {EVERYTHING}",
            calls=[
                tool("read_file", path=f"notes{CLIPBOARD}.txt"),
                tool("run_command", command=f"echo {TITLE}{CLEAR}"),
                tool("update_plan", items=plan),
            ],
        ),
        Reply(text=f"Done {EVERYTHING}\nbye"),
    ]


# --- end to end: the real CLI -------------------------------------------------------------------


def test_attack_escapes_from_the_model_in_text_output(llm: ScriptedLLM, repo: Path) -> None:
    """The model (or a prompt injection) sends escapes in its text, its tool calls' path,
    command and plan step, its final answer, and the API in an error it retries."""
    llm.add(*hostile_script())
    done = run_cli("run", "look", *model_flags(llm), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert_inert(done.stdout)
    assert_inert(done.stderr)
    assert "Traceback" not in done.stderr
    # Still readable: every sequence is there, as text.
    assert done.stdout.startswith("Done \\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x1b]0;pwned\\x1b\\")
    assert "\\u009b2J" in done.stdout and "\\u202eexe.txt" in done.stdout
    assert "rm -rf ~\\x0d# harmless\nbye" in done.stdout
    assert "answered 503 " in done.stderr and "overloaded \\x1b]52;c;" in done.stderr
    assert "Looking \\x1b]52;c;" in done.stderr  # text that came with tool calls
    assert "notes\\x1b]52;c;ZWNobyBwd25lZA==\\x07.txt" in done.stderr  # path, and its error
    assert "→ $ echo \\x1b]0;pwned\\x1b\\\\x1b[2J" in done.stderr  # command
    assert "[~] step \\x1b]0;pwned\\x1b\\\\u202eexe.txt" in done.stderr  # plan step


def test_attack_escapes_from_the_model_in_stream_json(llm: ScriptedLLM, repo: Path) -> None:
    """The same in stream-json: every line parses, carries the text unchanged in meaning, and
    holds no raw C1 or bidi control (JSON itself escapes C0)."""
    llm.add(*hostile_script())
    done = run_cli("run", "look", *model_flags(llm), "--output-format", "stream-json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert_inert(done.stdout.replace("\n", ""))
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["type"] == "result"
    assert events[-1]["result"] == f"Done {EVERYTHING}\nbye"
    streamed = "".join(e["text"] for e in events if e["type"] == "text_delta")
    assert f"Looking {EVERYTHING}" in streamed
    started = [e for e in events if e["type"] == "tool_started"]
    assert started[1]["arguments"]["command"] == f"echo {TITLE}{CLEAR}"
    # The wire format is byte for byte what the JSON helper makes of the event.
    assert done.stdout.splitlines()[-1] == json_safe(json.dumps(events[-1], separators=(",", ":")))


def test_attack_file_names_and_source_lines_in_map_and_symbols(repo: Path) -> None:
    """A repository names its files and writes its source lines with escapes, which
    ``shipmate map`` and ``symbols`` print."""
    evil_name = f"evil{TITLE}{REORDER}.py"
    (repo / evil_name).write_text(f"def handler():  # {CLIPBOARD}\n    return 1\n")
    (repo / f"use{CLEAR}.py").write_text(f"from x import handler\n\nhandler()  # {LINK}\n")
    git(repo, "add", "-A")
    for args in (("symbols", "handler"), ("map", "--query", "handler"), ("index",)):
        done = run_cli(*args, cwd=repo)
        assert done.returncode == 0, done.stderr
        assert_inert(done.stdout)
        assert_inert(done.stderr)
    symbols = run_cli("symbols", "handler", cwd=repo).stdout
    assert "evil\\x1b]0;pwned\\x1b\\\\u202eexe.txt\\u202c.py:1" in symbols
    assert "use\\x1b[2J\\x1b[H.py:3  handler()  # \\x1b]8;;https://evil.example/" in symbols
    assert "evil\\x1b]0;pwned" in run_cli("map", cwd=repo).stdout
    data = json.loads(run_cli("symbols", "handler", "--json", cwd=repo).stdout)
    assert data["definitions"][0]["path"] == evil_name  # JSON keeps the real name


def test_attack_escapes_in_arguments_paths_and_rules(repo: Path, tmp_path: Path) -> None:
    """Escapes in what the user was handed to type (a folder name, a rule pattern, an option
    value) come back in errors, argparse's own messages, ``rules`` and ``doctor``."""
    folder = tmp_path / f"ws{TITLE}"
    folder.mkdir()
    outputs = []
    done = run_cli("run", "x", "-C", str(tmp_path / f"missing{CLIPBOARD}"), cwd=repo)
    assert done.returncode == 2 and "missing\\x1b]52;c;" in done.stderr
    outputs.append(done)
    done = run_cli("run", "--approval", f"bogus{CLEAR}", cwd=repo)
    assert done.returncode == 2 and "invalid choice: 'bogus\\x1b[2J\\x1b[H'" in done.stderr
    outputs.append(done)
    done = run_cli("rules", "add", f"pytest {LINK}*", cwd=repo)
    assert done.returncode == 0 and "pytest \\x1b]8;;https://evil.example/" in done.stdout
    outputs.append(done)
    done = run_cli("rules", cwd=repo)
    assert "1. allow command pytest \\x1b]8;;" in done.stdout
    outputs.append(done)
    done = run_cli("doctor", "-C", str(folder), cwd=repo)
    assert "ws\\x1b]0;pwned\\x1b\\ (not a git repository)" in done.stdout
    outputs.append(done)
    for each in outputs:
        assert_inert(each.stdout)
        assert_inert(each.stderr)
        assert "Traceback" not in each.stderr


# --- what goes back to the model ----------------------------------------------------------------


async def test_attack_command_output_escapes_never_reach_the_model(ctx: ToolContext) -> None:
    """A command prints escapes (a test suite's colours, or a planted payload for the model
    to copy into a file or the user's terminal); the model gets the text alone."""
    ctx.sandbox = None
    payload = (
        r"printf 'ok \033]52;c;ZXZpbA==\007\033]0;t\033\\\033[1;31mred\033[0m "
        r"\033P1;2q#0\033\\\033_apc\033\\\033^pm\007\033Xsos\033\\\033c\0337\033(B"
        r"\302\2332J\302\2350;c1\302\234 end\r\nover\rwrite\a\n'"
    )
    result = await RunCommand(command=payload).run(ctx)
    assert not result.is_error, result.output
    assert result.output == "ok red  end\nover\nwrite\n[exit code 0]"


# --- the rules themselves -----------------------------------------------------------------------

SEQUENCES = {
    "osc 52 bel": (CLIPBOARD, ""),
    "osc st": (TITLE, ""),
    "osc 8 link": (LINK, "click"),
    "osc 8-bit": ("\x9d0;t\x9c", ""),
    "osc ended by 8-bit st": ("\x1b]0;t\x9c", ""),
    "dcs": ("\x1bP1$r0m\x1b\\", ""),
    "dcs 8-bit": ("\x90q#0;2;0;0;0\x9c", ""),
    "apc": ("\x1b_Gf=100;AAAA\x1b\\", ""),
    "pm": ("\x1b^private\x1b\\", ""),
    "sos": ("\x1bXstring\x07", ""),
    "csi params": ("\x1b[38;2;255;0;0m", ""),
    "csi private": ("\x1b[?1049h\x1b[?25l", ""),
    "csi intermediate": ("\x1b[2 q", ""),
    "csi colon params": ("\x1b[4:3m", ""),
    "csi 8-bit": ("\x9b2J", ""),
    "reset": ("\x1bc", ""),
    "save cursor": ("\x1b7\x1b8", ""),
    "charset": ("\x1b(B\x1b)0", ""),
    "keypad": ("\x1b=\x1b>", ""),
    "index": ("\x1bD\x1bM", ""),
    "nested osc": ("\x1b]0;a\x1b]0;b\x07", "0;a"),
    "unterminated osc": ("\x1b]0;title", "0;title"),
    "unterminated csi": ("\x1b[12\n", "12\n"),
    "lone esc": ("\x1b\n", "\n"),
    "bel": ("\x07", ""),
    "backspace": ("abc\x08\x08\x08xyz", "abcxyz"),
    "c1 single": ("\x85\x8d\x84", ""),
    "del": ("\x7f", ""),
}


@pytest.mark.parametrize("sequence", list(SEQUENCES), ids=list(SEQUENCES))
def test_for_model_removes_each_sequence_whole(sequence: str) -> None:
    raw, left = SEQUENCES[sequence]
    assert for_model(f"a{raw}b") == f"a{left}b"


@pytest.mark.parametrize("sequence", list(SEQUENCES), ids=list(SEQUENCES))
def test_visible_shows_each_sequence_as_text(sequence: str) -> None:
    raw, _ = SEQUENCES[sequence]
    shown = visible(f"a{raw}b")
    assert_inert(shown)
    assert shown.startswith("a") and shown.endswith("b")
    assert len(shown) > len(raw)  # nothing vanished: each control became an escape


def test_visible_is_unambiguous_and_keeps_text() -> None:
    assert visible("a\tb\nc") == "a\tb\nc"
    assert visible("\x1b]52;c;x\x07") == "\\x1b]52;c;x\\x07"
    assert visible("\x9b\u202e\u2028\u2066\u200f\u061c") == (
        "\\u009b\\u202e\\u2028\\u2066\\u200f\\u061c"
    )
    assert visible("\x00\x7f") == "\\x00\\x7f"
    # \r shown, so it cannot hide what came before it; \r\n is an ordinary line end.
    assert visible(OVERWRITE) == "rm -rf ~\\x0d# harmless"
    assert visible("one\r\ntwo") == "one\ntwo"
    # A file name's stray byte is \xNN (tools.names), a C1 control \u00NN: never confused.
    assert visible("name\udc9b") == "name\\x9b"
    assert visible("name\\x9b") == "name\\x9b"
    assert visible("\x9b") == "\\u009b"
    assert visible("héllo wörld ✓ 日本") == "héllo wörld ✓ 日本"


def test_for_model_line_ends_and_text() -> None:
    assert for_model("a\r\nb\r\r\nc") == "a\nb\nc"
    assert for_model("50%\r100%\rdone\n") == "50%\n100%\ndone\n"  # nothing hidden, nothing glued
    assert for_model(OVERWRITE) == "rm -rf ~\n# harmless"
    assert (
        for_model("tab\tand \\x1b stays text, \u202e too")
        == "tab\tand \\x1b stays text, \u202e too"
    )
    assert for_model("\x1b[31m" * 100_000 + "end") == "end"
    assert for_model("\x1b]" * 100_000 + "end") == "end"  # linear, no backtracking blow-up


def test_json_safe_keeps_the_value_and_leaves_nothing_active() -> None:
    for value in (EVERYTHING, "\x7f\x80\x9f\u2028\u2029", "plain ✓", "\\u202e literal"):
        line = json_safe(json.dumps({"text": value}, ensure_ascii=False))
        assert json.loads(line) == {"text": value}
        assert_inert(line)
        assert visible(line) == line  # the terminal filter passes JSON lines unchanged


def test_safe_stream_filters_every_write_but_trusted_ones() -> None:
    inner = io.StringIO()
    stream = SafeStream(inner)
    print(f"answer {CLIPBOARD}", file=stream)
    stream.writelines([CLEAR, "\n"])
    write_trusted(stream, "\rprogress")
    assert (
        inner.getvalue() == "answer \\x1b]52;c;ZWNobyBwd25lZA==\\x07\n\\x1b[2J\\x1b[H\n\rprogress"
    )
    assert not hasattr(stream, "buffer")  # bytes cannot go around the filter


def test_attack_escapes_in_watch_output_and_its_approval_questions() -> None:
    """``shipmate watch`` prints the files' own text (AI comments, diffs) and the model's
    arguments (the approval question): none of their control sequences reach the terminal."""
    import asyncio
    import io

    from agent.events import ToolFinished
    from agent.frontends.line_approver import LineApprover, TerminalLines
    from agent.frontends.watch import WatchOutput
    from agent.policy.approval import ApprovalRequest

    hostile = "x \x1b]52;c;aGk=\x07 \x1b[2J \x9b31m \u202e"
    out = io.StringIO()
    output = WatchOutput(out, out)
    output.say(f"  app.py:1 {hostile} AI!")
    output.show(
        ToolFinished(
            call_id="1", name="edit_file", status="ok", summary="edited",
            diff=f"--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-{hostile}\n+fine\n",
        )
    )  # fmt: skip
    request = ApprovalRequest(
        call_id="2", name="run_command", kind="execute", summary=f"$ echo {hostile}"
    )

    async def ask() -> None:
        lines = TerminalLines(io.StringIO("n\n")).start()
        await LineApprover(lines, out).decide(request)

    asyncio.run(ask())
    shown = out.getvalue()
    assert "aGk=" in shown and "2J" in shown  # shown, as literal text
    assert not any(control in shown for control in ("\x1b", "\x07", "\x9b", "\u202e"))
