"""Token accounting and compaction: a long session stays within the model's window, what is
sent shrinks while the stored session keeps everything, and a provider's "context too long"
compacts once and retries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import prompts
from agent.config import ConfigError, load_settings, user_config_file
from agent.context.history import sendable
from agent.context.tokens import TokenCounter
from agent.conversation import Conversation
from agent.events import Compacted, ContextUpdated, Error, Event, Result, UsageUpdated

from helpers import git, make_agent, module_text, reopened
from scripted_llm import Fault, Reply, ScriptedLLM, tool

MODEL = "openai/scripted"
WINDOW = 8_000
COMPACT_PROMPT = prompts.load("compact.md").splitlines()[0]
TOO_LONG = Fault(
    "status",
    status=400,
    body=json.dumps(
        {
            "error": {
                "message": "This model's maximum context length is 8192 tokens. However, your "
                "messages resulted in 9100 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        }
    ),
)


@pytest.fixture
def big_repo(tmp_path: Path) -> Path:
    """A repository of 48 modules of about 900 tokens each."""
    root = tmp_path / "big"
    root.mkdir()
    for number in range(48):
        (root / f"mod_{number:02}.py").write_text(module_text(number))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "modules")
    return root


def is_summary_request(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"].startswith(COMPACT_PROMPT)


def summariser(llm: ScriptedLLM) -> list[str]:
    """Answer every summary request with a numbered note; the notes written, in order."""
    notes: list[str] = []

    def answer(body: dict[str, Any]) -> Reply | None:
        if not is_summary_request(body):
            return None
        notes.append(f"SUMMARY-{len(notes) + 1}: the developer wants every module explained.")
        return Reply(text=notes[-1], prompt_tokens=1000, completion_tokens=50)

    llm.answer = answer
    return notes


async def run(conversation: Conversation, text: str) -> list[Event]:
    return [event async for event in conversation.send(text)]


async def test_a_long_session_stays_within_the_window(llm: ScriptedLLM, big_repo: Path) -> None:
    notes = summariser(llm)
    for task in range(12):
        for read in range(4):
            llm.add(
                Reply(
                    text="Reading.", calls=[tool("read_file", path=f"mod_{task * 4 + read:02}.py")]
                )
            )
        llm.add(Reply(text=f"Task {task} done."))
    conversation = make_agent(llm, big_repo, context_window=WINDOW)
    events: list[Event] = []
    for task in range(12):
        events += await run(
            conversation, f"task {task}: explain modules {task * 4} to {task * 4 + 3}"
        )
    results = [e for e in events if isinstance(e, Result)]
    assert [r.status for r in results] == ["success"] * 12
    assert sum(r.turns for r in results) == 60

    # Every request the server received fits the window, counted as Shipmate counts.
    counter = TokenCounter(MODEL)
    sizes = [counter.request(body["messages"], body.get("tools", [])) for body in llm.requests]
    assert max(sizes) <= WINDOW
    assert sum(not is_summary_request(body) for body in llm.requests) == 60
    summaries = [n for n, body in enumerate(llm.requests) if is_summary_request(body)]
    compactions = [e for e in events if isinstance(e, Compacted)]
    assert len(summaries) == len(notes) >= 5
    assert len(compactions) >= 5 and all(c.tokens_after < c.tokens_before for c in compactions)

    # The first summary request: the compaction prompt, and the old history as a transcript.
    first = llm.requests[summaries[0]]["messages"]
    assert (
        first[0]["content"].startswith(COMPACT_PROMPT) and "about 400 words" in first[0]["content"]
    )
    assert "task 0: explain modules 0 to 3" in first[1]["content"]
    assert "[tool call: read mod_00.py]" in first[1]["content"]
    assert "def function_0_0(value):" in first[1]["content"]
    assert "tools" not in llm.requests[summaries[0]]
    # A later one folds the previous note in.
    assert notes[0] in llm.requests[summaries[1]]["messages"][1]["content"]

    # After it: the system prompt, the summary, then the recent turns as stored.
    compacted = next(c for c in compactions if c.summary == notes[0])
    after = llm.requests[summaries[0] + 1]["messages"]
    assert after[0] == conversation.messages[0]
    assert after[1]["role"] == "user" and notes[0] in after[1]["content"]
    recent = conversation.messages[: compacted.upto + len(after) - 2]
    assert after[2:] == sendable(recent, compacted)[2:]
    assert all("task 0:" not in str(message["content"]) for message in after)

    # The stored session keeps everything: every output whole, nothing stubbed or summarised.
    stored = conversation.store.messages(conversation.session_id)
    assert stored == conversation.messages
    outputs = [m["content"] for m in stored if m["role"] == "tool"]
    assert len(outputs) == 48 and all("output dropped" not in output for output in outputs)
    assert all(f"def function_{n}_29(value):" in outputs[n] for n in range(48))
    assert sum(m["role"] == "assistant" for m in stored) == 60
    kinds = [e["type"] for e in conversation.store.events(conversation.session_id)]
    assert kinds.count("compacted") == len(compactions)

    # The context event follows every model call; summary calls count in the usage.
    assert sum(isinstance(e, ContextUpdated) for e in events) == 60
    assert all(e.window == WINDOW for e in events if isinstance(e, ContextUpdated))
    assert sum(r.usage.input_tokens for r in results) == 60 * 100 + len(notes) * 1000
    assert conversation.session_usage.input_tokens == 60 * 100 + len(notes) * 1000


async def test_dropping_old_outputs_comes_first(llm: ScriptedLLM, big_repo: Path) -> None:
    for number in range(10):
        (big_repo / f"small_{number}.py").write_text(module_text(number, functions=10))
        llm.add(Reply(calls=[tool("read_file", path=f"small_{number}.py")]))
    llm.add(Reply(text="Done."))
    # Room for the tool definitions (about 2,500 tokens) and ten reads, to drop from.
    window = WINDOW + 1_000
    conversation = make_agent(llm, big_repo, context_window=window, map_tokens=0)
    events = await run(conversation, "read the small modules")
    assert events[-1].status == "success", events[-1].error
    assert not any(is_summary_request(body) for body in llm.requests)
    (compacted,) = [e for e in events if isinstance(e, Compacted)]
    assert compacted.messages_summarised == 0 and not compacted.summary
    last = llm.requests[-1]["messages"]
    stubs = [m["content"] for m in last if m["role"] == "tool" and "output dropped" in m["content"]]
    assert stubs[0].startswith("(read small_0.py lines 1–50 — output dropped")
    whole = [m for m in last if m["role"] == "tool" and "output dropped" not in m["content"]]
    assert len(whole) >= 3  # the latest calls' outputs stay
    assert [e.tokens for e in events if isinstance(e, ContextUpdated)][-1] <= window * 0.8


async def test_context_too_long_compacts_once_and_retries(llm: ScriptedLLM, repo: Path) -> None:
    notes = summariser(llm)
    llm.add(
        Reply(calls=[tool("read_file", path="textutil.py")]),
        Reply(calls=[tool("read_file", path="test_textutil.py")]),
        TOO_LONG,
        Reply(text="It slugifies."),
    )
    conversation = make_agent(llm, repo)
    events = await run(conversation, "what does textutil do?")
    assert events[-1].status == "success" and events[-1].result == "It slugifies."
    assert [is_summary_request(body) for body in llm.requests] == [False] * 3 + [True, False]
    assert "what does textutil do?" in llm.requests[3]["messages"][1]["content"]
    retried = llm.requests[4]["messages"]
    assert notes[0] in retried[1]["content"]
    assert len(retried) < len(llm.requests[2]["messages"])
    assert sum(isinstance(e, Compacted) for e in events) == 1
    assert events[-1].usage.input_tokens == 3 * 100 + 1000


async def test_still_too_long_after_compacting_fails_clearly(llm: ScriptedLLM, repo: Path) -> None:
    summariser(llm)
    llm.add(Reply(calls=[tool("read_file", path="textutil.py")]), TOO_LONG, TOO_LONG)
    conversation = make_agent(llm, repo)
    events = await run(conversation, "what does textutil do?")
    result = events[-1]
    assert result.status == "failed"
    assert "still too long for the model's context window" in result.error
    assert "context_window" in result.error
    assert sum(is_summary_request(body) for body in llm.requests) == 1
    assert len(llm.requests) == 4  # the call, the summary, one retry: no more


async def test_compact_on_demand_then_a_resumed_session_sends_the_same(
    llm: ScriptedLLM, repo: Path
) -> None:
    notes = summariser(llm)
    llm.add(
        Reply(calls=[tool("read_file", path="textutil.py")]),
        Reply(text="It slugifies."),
        Reply(text="Two tests."),
    )
    conversation = make_agent(llm, repo)
    await run(conversation, "what does textutil do?")
    await run(conversation, "and its tests?")
    before = conversation.session_usage.input_tokens
    events = [event async for event in conversation.compact()]
    assert [type(e) for e in events] == [UsageUpdated, Compacted]
    compacted = events[-1]
    assert compacted.summary == notes[0] and compacted.messages_summarised == 5
    assert compacted.upto == 6 and conversation.messages[6]["content"] == "Two tests."
    assert conversation.session_usage.input_tokens == before + 1000

    # A session resumed from the store sends the summary again, without a new summary call.
    stored = conversation.store.events(conversation.session_id)
    last = Compacted.model_validate([e for e in stored if e["type"] == "compacted"][-1])
    llm.add(Reply(text="Resumed."))
    again = reopened(
        conversation,
        session_id=conversation.session_id,
        history=conversation.store.messages(conversation.session_id),
        compacted=last,
    )
    await run(again, "anything else?")
    assert len(notes) == 1
    sent = llm.requests[-1]["messages"]
    assert notes[0] in sent[1]["content"]
    assert sent[2]["content"] == "Two tests."
    assert sent[3]["content"].endswith("anything else?")


async def test_compact_with_nothing_to_summarise(llm: ScriptedLLM, repo: Path) -> None:
    conversation = make_agent(llm, repo)
    events = [event async for event in conversation.compact()]
    (compacted,) = events
    assert compacted.tokens_after == compacted.tokens_before and not compacted.summary


async def test_a_failed_summary_changes_nothing(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="One."), Reply(text="Two."))
    conversation = make_agent(llm, repo)
    await run(conversation, "first")
    await run(conversation, "second")
    llm.add(Fault("status", status=401))
    events = [event async for event in conversation.compact()]
    assert isinstance(events[-1], Error) and not events[-1].fatal
    assert events[-1].message.startswith("Compacting failed:")
    assert conversation.compacted is None


def test_sendable_puts_the_summary_first_and_stubs_old_outputs() -> None:
    output = "\n".join(f"{n:>6}\tline {n}" for n in range(1, 101))
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
    }
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": output},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": None, "tool_calls": [{**call, "id": "c2"}]},
        {"role": "tool", "tool_call_id": "c2", "content": output},
        {"role": "assistant", "content": "done"},
    ]
    stubbed = sendable(
        messages, Compacted(tokens_before=0, tokens_after=0, outputs_dropped_before=5)
    )
    assert stubbed[3]["content"].startswith("(read a.py lines 1–100 — output dropped")
    assert stubbed[6]["content"] == output
    summarised = sendable(
        messages,
        Compacted(
            tokens_before=0, tokens_after=0, summary="NOTE", upto=4, outputs_dropped_before=7
        ),
    )
    assert [m["role"] for m in summarised] == [
        "system",
        "user",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert "<summary>\nNOTE\n</summary>" in summarised[1]["content"]
    assert summarised[2]["content"] == "second" and "output dropped" in summarised[4]["content"]
    assert messages[3]["content"] == output  # the history itself is untouched


async def test_a_stored_compaction_that_no_longer_fits_is_ignored(
    llm: ScriptedLLM, repo: Path
) -> None:
    conversation = make_agent(llm, repo)
    history = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "u"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "grep", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "x"},
    ]
    for upto, fits in ((2, True), (3, False), (1, False), (9, False)):
        state = Compacted(tokens_before=0, tokens_after=0, summary="N", upto=upto)
        again = reopened(conversation, session_id="s", history=history, compacted=state)
        assert (again.compacted is not None) == fits


def test_token_counts_are_litellm_s_and_cached() -> None:
    from agent.llm import litellm

    counter = TokenCounter(MODEL)
    message = {"role": "user", "content": module_text(1)}
    assert counter.message(message) == litellm().token_counter(model=MODEL, messages=[message])
    assert counter.message(dict(message)) == counter.message(message)
    assert len(counter._cache) == 1
    assert not counter.estimated
    odd = {"role": "user", "content": [{"type": "no-such-block", "text": "x" * 300}]}
    assert counter.message(odd) >= 100  # litellm cannot count it: a generous estimate
    assert counter.estimated


def write_user_config(text: str) -> None:
    path = user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("user", "project", "expected"),
    [
        ("", "compact_at = 0.5", 0.5),
        ("", "compact_at = 0.95", 0.8),
        ("", "compact_at = 0", 0.8),
        ("compact_at = 0", "compact_at = 0.6", 0.6),
        ("compact_at = 0.5", "compact_at = 0", 0.5),
    ],
)
def test_a_project_may_only_compact_sooner(
    tmp_path: Path, user: str, project: str, expected: float
) -> None:
    write_user_config(user + "\n")
    (tmp_path / ".shipmate.toml").write_text(project + "\n")
    settings = load_settings(tmp_path)
    assert settings.compact_at == expected
    assert bool(settings.notices) == (expected != float(project.split("= ")[1]))


def test_context_window_is_the_user_s_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPMATE_CONTEXT_WINDOW", "32768")
    assert load_settings(tmp_path).context_window == 32768
    (tmp_path / ".shipmate.toml").write_text("context_window = 4096\n")
    with pytest.raises(ConfigError, match="may not set context_window"):
        load_settings(tmp_path)


async def test_a_small_window_gets_a_small_repo_map(llm: ScriptedLLM, repo: Path) -> None:
    """A local model with 4,096 tokens: the map takes an eighth of it, so the first request
    fits, and no compaction is announced when it would gain nothing."""
    for number in range(60):
        (repo / f"module_{number}.py").write_text(
            "".join(f"def function_{number}_{n}(alpha, beta, gamma):\n    pass\n" for n in range(8))
        )
    llm.add(Reply(text="ok"))
    conversation = make_agent(llm, repo, context_window=4096)
    events = [event async for event in conversation.send("explain the modules")]
    sent = llm.requests[0]["messages"]
    user = sent[1]["content"]
    assert "<repository_map>" in user
    assert conversation.counter.text(user) <= 4096 // 4  # the map counts tokens its own way
    assert conversation.counter.request(sent, conversation.specs) <= 4096
    assert not any(event.type == "compacted" for event in events)
