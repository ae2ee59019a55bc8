"""The LLM client against the scripted server, through litellm's real HTTP path."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from agent.config import ConfigError, Settings
from agent.events import Retrying, TextDelta
from agent.llm import LLM, PLACEHOLDER_KEY, LLMError, with_cache_control
from agent.llm import Reply as LLMReply

from scripted_llm import Call, Fault, Reply, ScriptedLLM, tool

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def client(server: ScriptedLLM, model: str = "openai/scripted", **options) -> LLM:
    options.setdefault("retry_base_delay", 0.01)
    return LLM(model, api_base=server.url, api_key="test-key", **options)


async def collect(llm: LLM, tools: list | None = None) -> list:
    return [item async for item in llm.stream(MESSAGES, tools or [])]


async def test_text_streams_in_pieces_and_usage_is_counted(llm: ScriptedLLM) -> None:
    llm.add(
        Reply(
            text="Hello there, friend.", prompt_tokens=120, completion_tokens=7, cached_tokens=100
        )
    )
    items = await collect(client(llm))
    deltas = [item.text for item in items if isinstance(item, TextDelta)]
    assert len(deltas) > 1
    assert "".join(deltas) == "Hello there, friend."
    reply = items[-1]
    assert isinstance(reply, LLMReply)
    assert reply.text == "Hello there, friend."
    assert reply.tool_calls == []
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (120, 7)
    assert reply.usage.cached_tokens == 100
    assert llm.requests[0]["stream"] is True


async def test_a_paced_reply_streams_at_its_rate(llm: ScriptedLLM) -> None:
    llm.add(Reply(text="a" * 40, chunk=1, rate=100), Reply(text="a" * 40, chunk=1))
    arrived, text = [], ""
    async for item in client(llm).stream(MESSAGES, []):
        if isinstance(item, TextDelta):
            arrived.append(time.monotonic())
            text += item.text
    assert text == "a" * 40
    assert 0.38 <= arrived[-1] - llm.request_times[0] < 2  # 40 pieces at 100 a second
    started = time.monotonic()
    await collect(client(llm))
    assert time.monotonic() - started < 0.3  # unpaced: at once


async def test_several_tool_calls_are_assembled_from_chunks(llm: ScriptedLLM) -> None:
    llm.add(
        Reply(
            text="Looking.",
            calls=[
                tool("read_file", path="src/app.py"),
                tool("grep", pattern="def main", glob="*.py"),
            ],
            chunk=3,
        )
    )
    reply = (await collect(client(llm)))[-1]
    assert [call.name for call in reply.tool_calls] == ["read_file", "grep"]
    assert reply.tool_calls[0].arguments == '{"path": "src/app.py"}'
    assert reply.tool_calls[1].arguments == '{"pattern": "def main", "glob": "*.py"}'
    assert reply.tool_calls[0].id != reply.tool_calls[1].id


async def test_malformed_tool_arguments_are_passed_through_raw(llm: ScriptedLLM) -> None:
    llm.add(Reply(calls=[Call("read_file", '{"path": "a.py"')]))
    reply = (await collect(client(llm)))[-1]
    assert reply.tool_calls[0].arguments == '{"path": "a.py"'


async def test_rate_limit_waits_for_retry_after(llm: ScriptedLLM) -> None:
    llm.add(Fault("status", status=429, retry_after=0.4), Reply(text="ok"))
    items = await collect(client(llm))
    retries = [item for item in items if isinstance(item, Retrying)]
    assert len(retries) == 1
    assert retries[0].delay_seconds == pytest.approx(0.4)
    assert "429" in retries[0].reason
    assert llm.request_times[1] - llm.request_times[0] >= 0.38
    assert items[-1].text == "ok"


@pytest.mark.parametrize(
    "fault", [Fault("status", status=500), Fault("status", status=503), Fault("drop")]
)
async def test_transient_faults_are_retried(llm: ScriptedLLM, fault: Fault) -> None:
    llm.add(fault, Reply(text="recovered"))
    items = await collect(client(llm))
    assert sum(isinstance(item, Retrying) for item in items) == 1
    assert items[-1].text == "recovered"
    assert len(llm.requests) == 2


async def test_a_stalled_stream_times_out_and_is_retried(llm: ScriptedLLM) -> None:
    llm.add(Fault("stall", seconds=5), Reply(text="fresh"))
    started = time.monotonic()
    items = await collect(client(llm, request_timeout=0.5))
    assert time.monotonic() - started < 4
    assert items[-1].text == "fresh"


async def test_retries_are_bounded(llm: ScriptedLLM) -> None:
    llm.add(*[Fault("status", status=500) for _ in range(3)])
    with pytest.raises(LLMError) as caught:
        await collect(client(llm, max_retries=2))
    assert not caught.value.config
    assert "3 times" in str(caught.value)
    assert len(llm.requests) == 3


@pytest.mark.parametrize(("status", "config"), [(401, True), (404, True), (400, False)])
async def test_errors_retrying_cannot_fix_fail_at_once(
    llm: ScriptedLLM, status: int, config: bool
) -> None:
    llm.add(Fault("status", status=status), Reply(text="never"))
    with pytest.raises(LLMError) as caught:
        await collect(client(llm))
    assert caught.value.config is config
    assert str(status) in str(caught.value)
    assert len(llm.requests) == 1


async def test_cancelling_a_stream_stops_it_promptly(llm: ScriptedLLM) -> None:
    llm.add(Fault("stall", seconds=20))
    task = asyncio.create_task(collect(client(llm)))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1


async def test_cost_comes_from_the_price_table(llm: ScriptedLLM) -> None:
    llm.add(Reply(text="priced", prompt_tokens=1_000_000, completion_tokens=0))
    reply = (await collect(client(llm, model="openai/gpt-4o")))[-1]
    assert reply.usage.cost_usd == pytest.approx(2.5, rel=0.5)


def test_cache_control_marks_system_and_newest_message_only() -> None:
    messages = [
        *MESSAGES,
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "go"},
    ]
    marked = with_cache_control(messages)
    assert marked[0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert marked[-1]["content"][0] == {
        "type": "text",
        "text": "go",
        "cache_control": {"type": "ephemeral"},
    }
    assert marked[1]["content"] == "hi"
    assert messages[0]["content"] == "be brief"


def test_cache_control_only_for_claude_on_anthropic_style_providers() -> None:
    assert LLM("anthropic/claude-sonnet-4-5").cache_control
    assert not LLM("openai/gpt-4o").cache_control
    assert not LLM("openai/claude-proxy", api_base="http://127.0.0.1:9").cache_control


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown model 'nonsense-model'"):
        LLM.from_settings(Settings(model="nonsense-model"))


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        LLM.from_settings(Settings(model="anthropic/claude-sonnet-4-5"))


def test_local_server_needs_no_key() -> None:
    llm = LLM.from_settings(Settings(model="qwen2.5-coder", api_base="http://127.0.0.1:9/v1"))
    assert llm.model == "openai/qwen2.5-coder"
    assert llm.api_key == PLACEHOLDER_KEY


def test_key_from_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm = LLM.from_settings(Settings())
    assert llm.model == "openai/gpt-5"
    # Handed to litellm explicitly, and gone from the environment children inherit.
    assert llm.api_key == "sk-test"
    assert "OPENAI_API_KEY" not in os.environ
