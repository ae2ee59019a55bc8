"""Project instructions: the user's own file and the root's AGENTS.md in the system prompt, and
the nearest AGENTS.md below the root given once, with the first file the model reads or edits
under its folder (also after a resume)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent.config import Settings, user_instructions_file
from agent.context.prompt import (
    MAX_PROJECT_FILE_CHARS,
    folder_instructions,
    project_file,
    system_prompt,
)
from agent.conversation import Conversation
from agent.doctor import report
from agent.events import Event, ToolFinished
from agent.frontends.headless import RunOptions, run_task
from tools.files import ReadFile

from helpers import make_agent, reopened
from scripted_llm import Reply, ScriptedLLM, tool

API_RULES = "Handlers in packages/api return pydantic models, never dicts."
WEB_RULES = "Components in packages/web use hooks only."


@pytest.fixture
def mono(repo: Path) -> Path:
    """A repository with instructions at the root, for packages/api and for packages/web."""
    (repo / "AGENTS.md").write_text("Root rules: run make check.\n")
    for name, rules in (("api", API_RULES), ("web", WEB_RULES)):
        src = repo / "packages" / name / "src"
        src.mkdir(parents=True)
        (repo / "packages" / name / "AGENTS.md").write_text(rules + "\n")
        (src / "a.py").write_text("A = 1\n")
        (src / "b.py").write_text("B = 2\n")
    return repo


async def collect(conversation: Conversation, text: str) -> list[Event]:
    return [event async for event in conversation.send(text)]


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def test_the_nearest_folder_below_the_root_wins(mono: Path) -> None:
    deep = mono / "packages" / "api" / "src" / "deep"
    deep.mkdir()
    (mono / "packages" / "AGENTS.md").write_text("All packages: no print().\n")
    blocks, files = folder_instructions(mono, deep / "x.py", set())
    assert files == ["packages/api/AGENTS.md"]
    assert [(b.file, b.folder, b.text) for b in blocks] == [
        ("packages/api/AGENTS.md", "packages/api", API_RULES)
    ]
    text = blocks[0].block()
    assert "Instructions from packages/api/AGENTS.md" in text and "under packages/api/" in text
    assert folder_instructions(mono, mono / "packages" / "other.py", set())[1] == [
        "packages/AGENTS.md"
    ]
    # The root's own files are in the system prompt; a file at the root adds nothing.
    assert folder_instructions(mono, mono / "textutil.py", set()) == ([], [])
    assert folder_instructions(mono, deep / "x.py", {"packages/api/AGENTS.md"}) == ([], [])


def test_claude_md_counts_too_and_the_same_text_is_given_once(mono: Path) -> None:
    api = mono / "packages" / "api"
    (api / "CLAUDE.md").symlink_to("AGENTS.md")  # the usual way to serve both tools
    (mono / "packages" / "web" / "CLAUDE.md").write_text("Web, for Claude: no classes.\n")
    blocks, files = folder_instructions(mono, api / "src" / "a.py", set())
    assert files == ["packages/api/AGENTS.md", "packages/api/CLAUDE.md"]
    assert [b.text for b in blocks] == [API_RULES]
    blocks, _ = folder_instructions(mono, mono / "packages" / "web" / "src" / "a.py", set())
    assert [b.text for b in blocks] == [WEB_RULES, "Web, for Claude: no classes."]
    only_claude = mono / "packages" / "cli"
    only_claude.mkdir()
    (only_claude / "CLAUDE.md").write_text("CLI rules.\n")
    assert folder_instructions(mono, only_claude / "main.py", set())[1] == [
        "packages/cli/CLAUDE.md"
    ]


def test_reading_the_instructions_file_itself_records_without_repeating(mono: Path) -> None:
    agents = mono / "packages" / "api" / "AGENTS.md"
    assert folder_instructions(mono, agents, set()) == ([], ["packages/api/AGENTS.md"])


def test_a_long_file_is_cut_and_an_unreadable_one_is_skipped(ws: Path) -> None:
    (ws / "AGENTS.md").write_text("x" * (MAX_PROJECT_FILE_CHARS * 10))
    text = project_file(ws, "AGENTS.md")
    assert len(text) < MAX_PROJECT_FILE_CHARS + 100 and text.endswith("the file is longer)")
    assert project_file(ws, "CLAUDE.md") == ""
    (ws / "CLAUDE.md").mkdir()
    assert project_file(ws, "CLAUDE.md") == ""


async def test_the_model_gets_a_folders_instructions_once(llm: ScriptedLLM, mono: Path) -> None:
    llm.add(
        Reply(calls=[tool("read_file", path="packages/api/src/a.py")]),
        Reply(calls=[tool("read_file", path="packages/api/src/b.py")]),
        Reply(
            calls=[
                tool("edit_file", path="packages/api/src/b.py", old_text="B = 2", new_text="B = 3"),
                tool("read_file", path="packages/web/src/a.py"),
            ]
        ),
        Reply(text="done"),
    )
    conversation = make_agent(llm, mono)
    events = await collect(conversation, "tidy the api")
    assert events[-1].status == "success"
    first, second, third = (tool_messages(llm.requests[n]) for n in (1, 2, 3))
    assert API_RULES in first[0] and first[0].startswith("     1\tA = 1")
    assert API_RULES not in second[1] and second[1].startswith("     1\tB = 2")
    assert API_RULES not in third[2] and WEB_RULES in third[3]
    assert sum(json.dumps(m).count(API_RULES) for m in llm.requests[3]["messages"]) == 1
    assert "Root rules: run make check." in llm.requests[0]["messages"][0]["content"]
    assert all(not key.startswith("_") for m in llm.requests[3]["messages"] for key in m)
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [e.instructions for e in finished] == [
        ["packages/api/AGENTS.md"],
        [],
        [],
        ["packages/web/AGENTS.md"],
    ]
    assert API_RULES not in finished[0].output  # people see the tool's own output
    stored = conversation.store.messages(conversation.session_id)
    assert [m.get("_instructions") for m in stored if m["role"] == "tool"] == [
        ["packages/api/AGENTS.md"],
        None,
        None,
        ["packages/web/AGENTS.md"],
    ]


async def test_a_run_says_which_instructions_it_gave(llm: ScriptedLLM, mono: Path) -> None:
    llm.add(Reply(calls=[tool("read_file", path="packages/web/src/a.py")]), Reply(text="ok"))
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(model="scripted", api_base=llm.url, approval="full-auto", max_retries=0)
    assert await run_task("read", settings, mono, RunOptions(), out, err) == 0
    assert "  ✓ 1 line\n  + instructions from packages/web/AGENTS.md\n" in err.getvalue()


async def test_a_resumed_session_does_not_repeat_them(llm: ScriptedLLM, mono: Path) -> None:
    llm.add(
        Reply(calls=[tool("read_file", path="packages/api/src/a.py")]),
        Reply(text="read"),
        Reply(calls=[tool("read_file", path="packages/api/src/b.py")]),
        Reply(text="read again"),
    )
    first = make_agent(llm, mono)
    await collect(first, "read a")
    resumed = reopened(
        first, session_id=first.session_id, history=first.store.messages(first.session_id)
    )
    events = await collect(resumed, "read b")
    assert [e.instructions for e in events if isinstance(e, ToolFinished)] == [[]]
    sent = json.dumps(llm.requests[-1]["messages"])
    assert sent.count(API_RULES) == 1


async def test_a_failed_read_gives_nothing_and_a_later_one_does(
    llm: ScriptedLLM, mono: Path
) -> None:
    llm.add(
        Reply(calls=[tool("read_file", path="packages/api/src/missing.py")]),
        Reply(calls=[tool("file_outline", path="packages/api/src/a.py")]),
        Reply(text="done"),
    )
    events = await collect(make_agent(llm, mono), "outline a")
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [(e.status, e.instructions) for e in finished] == [
        ("error", []),
        ("ok", ["packages/api/AGENTS.md"]),
    ]


def test_the_users_file_comes_before_the_projects_and_the_flag_last(mono: Path) -> None:
    mine = user_instructions_file()
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("Always answer briefly.\n")
    text = system_prompt(mono, "ask", "Answer in French.")
    assert (
        text.index("Always answer briefly.")
        < text.index("Root rules: run make check.")
        < text.index("Answer in French.")
    )
    assert str(mine) in text
    mine.unlink()
    assert "standing instructions" not in system_prompt(mono, "ask")


async def test_the_users_file_reaches_the_model(llm: ScriptedLLM, repo: Path) -> None:
    mine = user_instructions_file()
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("Never use the word 'simply'.\n")
    llm.add(Reply(text="ok"))
    await collect(make_agent(llm, repo), "hi")
    assert "Never use the word 'simply'." in llm.requests[0]["messages"][0]["content"]


def test_doctor_says_whether_the_users_file_is_used(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = user_instructions_file()

    def row() -> str:
        report(Settings(model="openai/x"), ws)
        out = capsys.readouterr().out.splitlines()
        return next(line for line in out if line.startswith("user instructions"))

    assert row().endswith(f"{mine} (not found)")
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("Be brief.\n")
    assert row().endswith(f"{mine} (found: every session follows it)")


def test_read_file_names_the_file_it_used() -> None:
    assert ReadFile(path="src/a.py").files_used() == ["src/a.py"]


async def test_instructions_dropped_by_a_compaction_are_given_again(
    llm: ScriptedLLM, mono: Path
) -> None:
    """Once the tool output that carried them is stubbed (or summarised) out of what is sent,
    the folder's instructions count as not given, so the next read there brings them back."""
    from agent.events import Compacted

    llm.add(Reply(calls=[tool("read_file", path="packages/api/src/a.py")]), Reply(text="read"))
    conversation = make_agent(llm, mono)
    await collect(conversation, "read a")
    carrier = next(i for i, m in enumerate(conversation.messages) if m.get("_instructions"))
    again = ReadFile(path="packages/api/src/b.py")
    assert conversation._folder_instructions(again) == ([], [])
    conversation.compacted = Compacted(
        tokens_before=9_000, tokens_after=3_000, outputs_dropped_before=carrier + 1
    )
    blocks, files = conversation._folder_instructions(again)
    assert files == ["packages/api/AGENTS.md"] and API_RULES in str(blocks)
