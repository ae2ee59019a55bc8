"""Every way a model server can fail, through litellm's real HTTP path: each is named for what
it is, with the URL, retried only when that can help, and never taken for a success."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from agent import keys
from agent.api_errors import display_url, is_local, scrub
from agent.config import ConfigError, Settings, load_settings
from agent.doctor import check_server, report
from agent.events import Error, Result, Retrying, SessionStarted
from agent.frontends.headless import RunOptions, TextOutput, run_task
from agent.llm import LLM, LLMError, litellm
from agent.llm import Reply as LLMReply

from helpers import make_agent
from scripted_llm import Fault, Reply, ScriptedLLM, closed_port_url, tool

MESSAGES = [{"role": "user", "content": "hi"}]
HTML = Fault(
    "status", status=200, body="<html><body>It works!</body></html>", content_type="text/html"
)


def client(base: str, **options) -> LLM:
    options.setdefault("retry_base_delay", 0.01)
    return LLM("openai/scripted", api_base=base, api_key="test-key", **options)


async def collect(llm: LLM) -> list:
    return [item async for item in llm.stream(MESSAGES, [])]


async def failure(llm: LLM) -> tuple[LLMError, list[Retrying]]:
    """The error a call ends with, and the retries shown before it."""
    retries: list[Retrying] = []
    with pytest.raises(LLMError) as caught:
        async for item in llm.stream(MESSAGES, []):
            if isinstance(item, Retrying):
                retries.append(item)
    return caught.value, retries


async def test_an_html_page_is_not_a_chat_completion(llm: ScriptedLLM) -> None:
    llm.add(HTML, Reply(text="never"))
    error, retries = await failure(client(llm.url))
    assert str(error) == (
        f"{llm.url}/chat/completions answered with text/html, not a chat completion: "
        "is --api-base right?"
    )
    assert retries == []
    assert len(llm.requests) == 1


NOT_A_COMPLETION = "answered with an error instead of a chat completion"
OLLAMA_NATIVE = {"model": "scripted", "message": {"role": "assistant", "content": "hi"}}


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"error": {"message": "model not loaded"}}', f"{NOT_A_COMPLETION}: model not loaded"),
        ('{"error": "out of memory"}', f"{NOT_A_COMPLETION}: out of memory"),
        # Ollama's own /api/chat shape, from a server that is not OpenAI-compatible
        (
            json.dumps({**OLLAMA_NATIVE, "done": True}),
            "answered with application/json, not a chat completion: is --api-base right?",
        ),
    ],
)
async def test_other_json_with_200_is_an_error(llm: ScriptedLLM, body: str, said: str) -> None:
    llm.add(Fault("status", status=200, body=body))
    error, _ = await failure(client(llm.url))
    assert str(error) == f"{llm.url}/chat/completions {said}"
    assert not error.config


async def test_an_empty_reply_is_asked_again_once(llm: ScriptedLLM) -> None:
    llm.add(Reply(prompt_tokens=50, completion_tokens=0), Reply(text="here it is"))
    items = await collect(client(llm.url))
    retries = [item for item in items if isinstance(item, Retrying)]
    assert [r.reason for r in retries] == [
        "the model sent an empty reply, with no text and no tool calls"
    ]
    reply = items[-1]
    assert isinstance(reply, LLMReply) and reply.text == "here it is"
    assert reply.usage.input_tokens == 150  # the empty attempt was paid for too


@pytest.mark.parametrize(
    ("first", "second", "said"),
    [
        (Reply(), Reply(), "the model sent an empty reply, with no text and no tool calls"),
        (Fault("silent"), Fault("silent"), "the model's reply stream ended without a single chunk"),
    ],
)
async def test_a_second_empty_reply_fails(
    llm: ScriptedLLM, first: Reply | Fault, second: Reply | Fault, said: str
) -> None:
    llm.add(first, second, Reply(text="never asked"))
    error, retries = await failure(client(llm.url))
    assert str(error) == f"The model API failed 2 times in a row: {said}"
    assert len(retries) == 1 and retries[0].delay_seconds == 0
    assert len(llm.requests) == 2


async def test_nothing_listening_on_a_local_port_fails_in_seconds() -> None:
    url = closed_port_url()
    llm = client(url, max_retries=5, retry_base_delay=1.0)  # the full backoff would take 31 s
    started = time.monotonic()
    error, retries = await failure(llm)
    elapsed = time.monotonic() - started
    assert str(error) == (
        f"The model API failed 3 times in a row: nothing is listening at {url} — is the "
        "server running?"
    )
    assert [r.delay_seconds for r in retries] == [0.5, 1.0]
    assert elapsed < 10
    assert "ConnectionRefusedError" in error.detail or "Connect call failed" in error.detail


async def test_a_host_that_does_not_exist_is_named() -> None:
    error, retries = await failure(client("http://no-such-host.invalid/v1"))
    assert "the host 'no-such-host.invalid' of http://no-such-host.invalid/v1 cannot be found" in (
        str(error)
    )
    assert len(retries) == 2


async def test_https_to_a_plain_http_server_says_so(llm: ScriptedLLM) -> None:
    url = llm.url.replace("http://", "https://")
    error, retries = await failure(client(url))
    assert str(error) == (
        f"{url} does not speak TLS (HTTPS): if the server is plain HTTP, use http:// in --api-base"
    )
    assert error.config and retries == []


async def test_a_timeout_is_called_a_timeout_with_its_setting(llm: ScriptedLLM) -> None:
    llm.add(Fault("slow", seconds=3), Fault("slow", seconds=3))
    error, retries = await failure(client(llm.url, request_timeout=0.5, max_retries=1))
    assert str(error) == (
        f"The model API failed 2 times in a row: {llm.url} did not answer within 0.5 s (to "
        "wait longer, raise the request_timeout setting, e.g. SHIPMATE_REQUEST_TIMEOUT=600)"
    )
    assert len(retries) == 1


async def test_404_from_a_server_points_at_model_and_api_base(llm: ScriptedLLM) -> None:
    llm.add(Fault("status", status=404))
    error, _ = await failure(client(llm.url))
    assert str(error) == (
        f"{llm.url} answered 404 Not Found for the model 'scripted': check --model (the name "
        "the server serves) and --api-base (usually ending in /v1)"
    )
    assert error.config


async def test_a_rejected_key_names_the_variable_to_set(llm: ScriptedLLM) -> None:
    llm.add(Fault("status", status=401), Fault("status", status=403))
    settings = Settings(model="scripted", api_base=llm.url)
    keys.capture(environ={"OPENAI_API_KEY": "sk-wrong"})
    first, _ = await failure(LLM.from_settings(settings))
    assert str(first) == f"{llm.url} rejected the API key (401): set OPENAI_API_KEY to a valid key"
    assert llm.headers[0]["authorization"] == "Bearer sk-wrong"
    second, _ = await failure(LLM.from_settings(settings))
    assert str(second) == (
        f"{llm.url} refused access (403): the key in OPENAI_API_KEY is not allowed to use "
        "'scripted'"
    )
    assert first.config and second.config


async def test_a_long_retry_after_is_not_waited_for(llm: ScriptedLLM) -> None:
    llm.add(Fault("status", status=429, retry_after=3600), Reply(text="never"))
    error, retries = await failure(client(llm.url))
    assert str(error) == (
        f"{llm.url} is rate-limiting these requests (429) and asks to wait 1.0 h: try again later"
    )
    assert retries == [] and len(llm.requests) == 1


async def test_an_overloaded_server_is_waited_for_as_it_asks(llm: ScriptedLLM) -> None:
    llm.add(Fault("status", status=503, retry_after=0.2), Reply(text="ok"))
    items = await collect(client(llm.url))
    assert [item.delay_seconds for item in items if isinstance(item, Retrying)] == [0.2]
    llm.add(Fault("status", status=503, retry_after=7200), Reply(text="never"))
    error, retries = await failure(client(llm.url))
    assert "answered 503 Service Unavailable" in str(error) and "2.0 h" in str(error)
    assert retries == []


async def test_a_retried_fault_says_what_it_was(llm: ScriptedLLM) -> None:
    llm.add(Fault("status", status=503), Fault("drop"), Reply(text="ok"))
    items = await collect(client(llm.url))
    reasons = [item.reason for item in items if isinstance(item, Retrying)]
    assert reasons == [
        f"{llm.url} answered 503 Service Unavailable: scripted failure",
        f"the connection to {llm.url} broke off in the middle of the reply",
    ]
    details = [item.detail for item in items if isinstance(item, Retrying)]
    assert "InternalServerError" in details[0]  # the raw text, kept for --verbose
    assert items[-1].text == "ok"


async def test_run_at_a_closed_port_says_so_plainly_or_verbosely(repo: Path) -> None:
    """``shipmate run --verbose``, in-process through ``run_task`` (the function behind it)."""
    url = closed_port_url()
    settings = Settings(model="qwen", api_base=url, max_cost=2)
    out, err = io.StringIO(), io.StringIO()
    assert await run_task("hi", settings, repo, RunOptions(verbose=True), out, err) == 1
    lines = err.getvalue().splitlines()
    assert (
        "note: --max-cost $2 is not enforced: litellm has no price for openai/qwen; set "
        "input_cost_per_mtok and output_cost_per_mtok (US dollars per million tokens) to count "
        "its cost."
    ) in lines
    assert f"! nothing is listening at {url} — is the server running? (retrying in 0.5 s, " in (
        err.getvalue()
    )
    assert (
        f"error: The model API failed 3 times in a row: nothing is listening at {url} — is the "
        "server running?"
    ) in lines
    raw = [line for line in lines if line.startswith("  raw: ")]
    assert len(raw) == 3 and all("Connect call failed" in line for line in raw)
    plain = [line for line in lines if line not in raw]
    assert not [line for line in plain if "InternalServerError" in line or "Traceback" in line]
    assert out.getvalue() == ""


async def test_keys_a_server_echoes_are_not_repeated(llm: ScriptedLLM) -> None:
    echo = '{"error": {"message": "Incorrect API key provided: sk-wrong-secret-42"}}'
    llm.add(Fault("status", status=400, body=echo), Fault("status", status=401, body=echo))
    keys.capture(environ={"OPENAI_API_KEY": "sk-wrong-secret-42"})
    settings = Settings(model="scripted", api_base=llm.url)
    for _ in range(2):
        error, _ = await failure(LLM.from_settings(settings))
        assert "sk-wrong-secret-42" not in str(error) + error.detail
        assert "***" in error.detail
    assert str(error).endswith("set OPENAI_API_KEY to a valid key")


def test_urls_are_shown_without_secrets() -> None:
    assert display_url("https://user:pw@host.example:8443/v1/?key=abc#x") == (
        "https://host.example:8443/v1"
    )
    assert is_local("http://127.0.0.1:9/v1") and is_local("http://localhost:11434/v1")
    assert is_local("http://192.168.1.20:8000/v1")
    assert not is_local("https://api.openai.com/v1")
    said = "404 for url 'https://g.example/v1/m:stream?alt=sse&key=AIzaSECRET' (see https://x.y)"
    assert scrub(said) == "404 for url 'https://g.example/v1/m:stream' (see https://x.y)"


def test_verbose_text_output_adds_the_raw_error() -> None:
    retry = Retrying(attempt=1, delay_seconds=0.5, reason="nothing is listening", detail="RAW 1")
    error = Error(message="Nothing is listening", detail="RAW 2")
    for verbose in (False, True):
        err = io.StringIO()
        output = TextOutput(io.StringIO(), err, verbose=verbose)
        output.show(retry)
        output.show(error)
        lines = err.getvalue().splitlines()
        assert lines[0] == "! nothing is listening (retrying in 0.5 s, attempt 2)"
        assert ("  raw: RAW 1" in lines) is verbose
        assert ("  raw: RAW 2" in lines) is verbose
        assert "error: Nothing is listening" in lines


# --- the loop: an empty reply or a wrong server is a failed run, not a success ---


async def test_a_run_answered_by_an_html_page_fails(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(HTML)
    events = [event async for event in make_agent(llm, repo).send("fix it")]
    result = events[-1]
    assert isinstance(result, Result) and result.status == "failed"
    assert "answered with text/html, not a chat completion" in (result.error or "")
    error = next(e for e in events if isinstance(e, Error))
    assert error.message == result.error and "litellm" not in error.message
    assert error.detail.startswith("NotChatCompletion: ")


async def test_a_run_with_two_empty_replies_fails(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(calls=[tool("list_files")]), Reply(), Reply())
    events = [event async for event in make_agent(llm, repo).send("look around")]
    result = events[-1]
    assert result.status == "failed"
    assert result.error.endswith("the model sent an empty reply, with no text and no tool calls")
    assert result.turns == 1
    assert result.usage.input_tokens == 300  # the empty replies were paid for too


# --- prices and budgets ---


def started(events: list) -> SessionStarted:
    return next(e for e in events if isinstance(e, SessionStarted))


async def test_a_budget_for_a_model_without_a_price_is_said_to_be_unenforced(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(Reply(text="done"))
    events = [e async for e in make_agent(llm, repo, max_cost=1.0).send("hi")]
    assert (
        "--max-cost $1 is not enforced: litellm has no price for openai/scripted; set "
        "input_cost_per_mtok and output_cost_per_mtok (US dollars per million tokens) to count "
        "its cost."
    ) in started(events).notices
    llm.add(Reply(text="done"))
    events = [e async for e in make_agent(llm, repo).send("hi")]
    assert not any("max-cost" in notice for notice in started(events).notices)


async def test_prices_from_the_settings_make_a_budget_work(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(
        *[
            Reply(calls=[tool("list_files")], prompt_tokens=100_000, completion_tokens=10_000)
            for _ in range(5)
        ]
    )
    agent = make_agent(llm, repo, max_cost=0.5)
    agent.llm.prices = (2.0, 10.0)  # as LLM.from_settings passes them: $0.30 per call here
    events = [e async for e in agent.send("loop")]
    assert not any("max-cost" in notice for notice in started(events).notices)
    result = events[-1]
    assert result.status == "budget_exceeded"
    assert result.cost_usd == pytest.approx(0.6)
    assert len(llm.requests) == 2


def test_prices_are_settings_and_come_in_pairs(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPMATE_INPUT_COST_PER_MTOK", "0.5")
    monkeypatch.setenv("SHIPMATE_OUTPUT_COST_PER_MTOK", "1.5")
    settings = load_settings(ws, {"model": "qwen", "api_base": "http://127.0.0.1:9/v1"})
    assert settings.prices == (0.5, 1.5)
    llm = LLM.from_settings(settings)
    assert llm.prices == (0.5, 1.5) and llm.price_known()
    monkeypatch.delenv("SHIPMATE_OUTPUT_COST_PER_MTOK")
    with pytest.raises(ConfigError, match="Set both input_cost_per_mtok and output_cost_per_mtok"):
        load_settings(ws)


def test_a_repository_cannot_set_prices(ws: Path) -> None:
    (ws / ".shipmate.toml").write_text("input_cost_per_mtok = 0\noutput_cost_per_mtok = 0\n")
    with pytest.raises(ConfigError, match="may not set input_cost_per_mtok"):
        load_settings(ws)


# --- doctor asks the server ---


def test_doctor_finds_the_model_on_the_server(llm: ScriptedLLM) -> None:
    assert check_server(llm.url, "scripted", None) == (
        True,
        f"{llm.url} answers and serves 'scripted'",
    )
    assert check_server(llm.url, "qwen", None) == (
        False,  # the run would fail with a 404: doctor exits 1
        f"{llm.url} answers, but does not list 'qwen' (it serves scripted): check --model",
    )
    assert "authorization" not in llm.gets[0][1]
    ok, line = check_server(llm.url.removesuffix("/v1"), "scripted", None)
    assert not ok and "answered 404 Not Found: is --api-base" in line


def test_doctor_sends_the_key_only_to_the_named_server(llm: ScriptedLLM) -> None:
    check_server(llm.url, "scripted", "sk-secret")
    assert llm.gets[-1][1]["authorization"] == "Bearer sk-secret"
    check_server(llm.url, "scripted", "sk-no-key-needed")
    assert "authorization" not in llm.gets[-1][1]


def test_doctor_asks_ollama_and_other_servers_their_own_way(llm: ScriptedLLM) -> None:
    native = llm.url.removesuffix("/v1")
    assert check_server(native, "scripted", "sk-secret", provider="ollama") == (
        True,
        f"{native} answers and serves 'scripted'",
    )
    assert llm.gets[-1][0] == "/api/tags"
    assert check_server(native, "claude", "sk-secret", provider="anthropic") == (
        True,
        f"{native} answers (its models are not checked)",
    )
    assert not any("authorization" in headers for _, headers in llm.gets)


def test_doctor_fails_when_nothing_listens(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    litellm()  # its import (seconds on a busy machine) is not what is timed
    started_at = time.monotonic()
    code = report(Settings(model="qwen", api_base=url, max_cost=1.0), ws)
    assert time.monotonic() - started_at < 10
    out = capsys.readouterr().out
    assert code == 1
    assert f"nothing is listening at {url} — is the server running?" in out
    assert "(not enforced: the model has no price)" in out


def test_doctor_says_a_web_page_is_not_a_model_server(llm: ScriptedLLM) -> None:
    llm.models_fault = HTML
    ok, line = check_server(llm.url, "scripted", None)
    assert not ok
    assert line == (
        f"{llm.url}/models answered with text/html, not a model list: is --api-base right?"
    )
