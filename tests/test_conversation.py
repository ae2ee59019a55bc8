"""A conversation over several messages: history carries over, maps do not pile up, and a
cancelled turn leaves a history the next message can be sent with."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.context.history import CANCELLED, INTERRUPTED, repaired, sendable
from agent.events import Result, SessionStarted, ToolStarted, UserMessage

from helpers import make_agent
from scripted_llm import Fault, Reply, ScriptedLLM, tool


def well_formed(messages: list[dict]) -> bool:
    """Every tool call answered right after its assistant message, no stray answers."""
    waiting: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] not in waiting:
                return False
            waiting.discard(message["tool_call_id"])
            continue
        if waiting:
            return False
        waiting = {call["id"] for call in message.get("tool_calls") or []}
    return not waiting


async def test_a_second_message_carries_the_first_turn(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        Reply(text="Looking.", calls=[tool("read_file", path="textutil.py")]),
        Reply(text="It slugifies text."),
        Reply(text="It has two tests."),
    )
    conversation = make_agent(llm, repo)
    first = [event async for event in conversation.send("what does textutil do?")]
    second = [event async for event in conversation.send("and its tests?")]
    assert isinstance(first[0], SessionStarted) and not first[0].resumed
    assert sum(isinstance(event, SessionStarted) for event in second) == 0
    assert [e.text for e in first + second if isinstance(e, UserMessage)] == [
        "what does textutil do?",
        "and its tests?",
    ]
    assert first[-1].result == "It slugifies text." and first[-1].turns == 2
    assert second[-1].result == "It has two tests." and second[-1].turns == 1
    assert first[-1].session_id == second[-1].session_id == conversation.session_id
    sent = llm.requests[2]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert "It slugifies text." in sent[4]["content"]
    assert sent[5]["content"].endswith("and its tests?")
    stored = conversation.store.events(conversation.session_id)
    assert [e["type"] for e in stored].count("user_message") == 2
    assert [e["type"] for e in stored].count("result") == 2


async def test_only_the_newest_repo_map_is_sent_whole(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="one"), Reply(text="two"), Reply(text="three"))
    conversation = make_agent(llm, repo)
    for text in ("fix slugify", "now the tests", "and the docs"):
        async for _ in conversation.send(text):
            pass
    sent = [m for m in llm.requests[2]["messages"] if m["role"] == "user"]
    assert [m["content"].count("<repository_map>") for m in sent] == [0, 0, 1]
    assert sent[0]["content"].endswith("fix slugify") and "dropped" in sent[0]["content"]
    assert all(not key.startswith("_") for m in llm.requests[2]["messages"] for key in m)
    # The stored history keeps every map whole.
    stored = [m for m in conversation.messages if m["role"] == "user"]
    assert all("<repository_map>" in m["content"] for m in stored)


async def test_cancel_mid_stream_then_the_next_message_goes_on(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Fault("stall", seconds=30), Reply(text="Fine, here it is."))
    conversation = make_agent(llm, repo)
    events = []

    async def consume() -> None:
        async for event in conversation.send("write a long essay"):
            events.append(event)

    async def cancel_once_asked() -> None:
        while not llm.requests:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the reply has started streaming, and stalls
        conversation.cancel()

    canceller = asyncio.create_task(cancel_once_asked())
    await asyncio.wait_for(consume(), 10)
    await canceller
    assert isinstance(events[-1], Result) and events[-1].status == "cancelled"
    after = [event async for event in conversation.send("just the summary")]
    assert after[-1].status == "success" and after[-1].result == "Fine, here it is."
    sent = llm.requests[-1]["messages"]
    assert well_formed(sent)
    assert [m["role"] for m in sent] == ["system", "user", "user"]


async def test_cancel_mid_command_answers_the_call_and_goes_on(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(
        Reply(calls=[tool("run_command", command="touch started; sleep 41.5")]),
        Reply(text="Stopped waiting."),
    )
    conversation = make_agent(llm, repo)

    async def consume() -> list:
        return [event async for event in conversation.send("wait for it")]

    task = asyncio.create_task(consume())
    for _ in range(200):
        if (repo / "started").exists():
            break
        await asyncio.sleep(0.05)
    conversation.cancel()
    events = await asyncio.wait_for(task, 10)  # the stream ends; the consumer is not cancelled
    assert isinstance(events[-1], Result) and events[-1].status == "cancelled"
    started = next(event for event in events if isinstance(event, ToolStarted))
    ended = events[-2]
    assert (ended.type, ended.call_id, ended.status) == (
        "tool_finished",
        started.call_id,
        "cancelled",
    )
    stored = [e["type"] for e in conversation.store.events(conversation.session_id)]
    assert stored[-2:] == ["tool_finished", "result"]
    after = [event async for event in conversation.send("never mind, stop")]
    assert after[-1].result == "Stopped waiting."
    sent = llm.requests[-1]["messages"]
    assert well_formed(sent)
    assert {
        "role": "tool",
        "tool_call_id": sent[2]["tool_calls"][0]["id"],
        "content": CANCELLED,
    } in (sent)


async def test_a_turn_cannot_start_while_one_runs(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Fault("stall", seconds=30))
    conversation = make_agent(llm, repo)
    stream = conversation.send("slow")
    await anext(stream)
    try:
        second = conversation.send("fast")
        try:
            await anext(second)
        except RuntimeError as error:
            assert "already running" in str(error)
        else:
            raise AssertionError("a second turn started")
    finally:
        conversation.cancel()
        async for _ in stream:
            pass


def test_a_history_cut_by_a_crash_is_repaired() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "run_command", "arguments": "{}"}}
    other = {**call, "id": "c2"}
    history = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": None, "tool_calls": [call, other]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
        {"role": "tool", "tool_call_id": "zz", "content": "stray"},
    ]
    fixed = repaired(history)
    assert well_formed(fixed)
    assert fixed[-1] == {"role": "tool", "tool_call_id": "c2", "content": INTERRUPTED}
    assert {"role": "tool", "tool_call_id": "zz", "content": "stray"} not in fixed
    assert repaired(fixed) == fixed
    assert sendable(fixed) == fixed
