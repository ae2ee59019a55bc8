"""Talking to the model through litellm: one streamed call, retried when the fault passes.

This layer owns retries: litellm's and the OpenAI SDK's own are switched off, so waits never
multiply. A call yields ``TextDelta`` as text arrives, ``Retrying`` before each new attempt
(text streamed so far is then void), and finally one ``Reply`` with the tool calls assembled
from their chunks, the usage and the cost. A reply that is not a chat completion, or that is
empty, is an error too (``agent.api_errors`` words them all), never a silent success.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agent import keys
from agent.api_errors import (
    BRIEF_DELAY,
    BRIEF_RETRIES,
    APIAnswerError,
    EmptyReply,
    Endpoint,
    Failure,
    IncompleteStream,
    NotChatCompletion,
    classify,
    display_url,
)
from agent.config import ConfigError, Settings, choose_model
from agent.events import Retrying, TextDelta, ToolCallInfo, Usage

MAX_BACKOFF = 30.0
# A body this small that is not a stream is read whole before parsing, so an error it holds
# can be quoted (reading it first changes nothing for the stream parser).
SMALL_BODY = 65_536
# Providers that take Anthropic-style cache_control blocks for Claude models.
CACHE_CONTROL_PROVIDERS = {"anthropic", "bedrock", "vertex_ai", "openrouter"}
PLACEHOLDER_KEY = "sk-no-key-needed"
# Characters one reply may stream (text, reasoning and tool calls together). The longest
# real replies (128k output tokens) are about half a megabyte; past this, a model or server
# gone wrong would only fill memory and the session store.
MAX_REPLY_CHARS = 4_000_000
# Past this size (beyond any real reply), litellm's own copies of the stream are dropped as
# it goes. Below it they stay: litellm counts usage from them when a server sends none.
KEEP_LITELLM_COPIES_UNTIL = 600_000


class LLMError(Exception):
    """The model call failed for good. ``config`` marks faults the user must fix (key, model);
    ``detail`` is the raw error for --verbose, ``usage`` what the failed attempts cost;
    ``too_long``: the provider said the request does not fit the model's context window."""

    def __init__(
        self,
        message: str,
        *,
        config: bool = False,
        detail: str = "",
        usage: Usage | None = None,
        too_long: bool = False,
    ) -> None:
        super().__init__(message)
        self.config = config
        self.detail = detail
        self.usage = usage or Usage()
        self.too_long = too_long


class ReplyTooLarge(APIAnswerError):
    """The reply passed ``MAX_REPLY_CHARS``; asking again would only bring the same."""

    def __init__(self) -> None:
        super().__init__(
            f"the reply was too large (over {MAX_REPLY_CHARS:,} characters of text and tool "
            "arguments) and was cut off"
        )


@dataclass
class Reply:
    text: str
    tool_calls: list[ToolCallInfo]
    usage: Usage
    finish_reason: str | None = None


@functools.cache
def litellm() -> Any:
    """Import litellm on first use: it costs seconds, and must not fetch its price table.

    Outside its production mode, importing litellm loads the first ``.env`` found above its
    own folder into the environment: with Shipmate installed in a ``.venv`` inside a cloned
    repository, that repository's ``.env`` could point the user's key at another server.
    """
    os.environ["LITELLM_MODE"] = "PRODUCTION"
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import litellm as module

    module.suppress_debug_info = True
    module.drop_params = True
    module.telemetry = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "openai"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return module


class LLM:
    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        credentials: dict[str, str] | None = None,
        request_timeout: float = 300.0,
        max_retries: int = 5,
        retry_base_delay: float = 1.0,
        key_names: tuple[str, ...] = (),
        prices: tuple[float, float] | None = None,
    ) -> None:
        """``credentials`` are litellm arguments (``api_key``, ``aws_secret_access_key`` …):
        keys are passed explicitly, never left in the environment for children to inherit.
        ``key_names`` are the variables they came from (for messages); ``prices`` the user's
        US dollars per million input and output tokens, over litellm's table."""
        self.model = model
        self.api_base = api_base
        self.credentials = dict(credentials or {})
        if api_key:
            self.credentials["api_key"] = api_key
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.prices = prices
        provider = litellm().get_llm_provider(model, api_base=api_base)[1]
        self.cache_control = provider in CACHE_CONTROL_PROVIDERS and "claude" in model.lower()
        self.endpoint = Endpoint(model, api_base, provider, key_names, request_timeout)

    @property
    def api_key(self) -> str | None:
        return self.credentials.get("api_key")

    @classmethod
    def from_settings(cls, settings: Settings) -> LLM:
        """Check the model and its key before any work starts; ConfigError says what to fix."""
        model = choose_model(settings)
        lib = litellm()
        try:
            provider = lib.get_llm_provider(model, api_base=settings.api_base)[1]
        except Exception:
            raise ConfigError(
                f"Unknown model '{model}': use a litellm model string such as "
                "anthropic/claude-sonnet-4-5, openai/gpt-5 or gemini/gemini-2.5-pro, or "
                "openai/NAME with --api-base for an OpenAI-compatible server."
            ) from None
        reported = lib.validate_environment(model=model, api_base=settings.api_base)
        credentials, missing = keys.credentials(reported["missing_keys"], provider)
        key_names = tuple(
            name for name in reported["missing_keys"] if not keys.SETTING.fullmatch(name)
        )
        if missing:
            if not settings.api_base:
                raise ConfigError(
                    f"{model} needs {' and '.join(missing)}: set it in your environment "
                    f"(export {missing[0]}=...), or choose another model with --model."
                )
            credentials.setdefault("api_key", PLACEHOLDER_KEY)
        return cls(
            model,
            api_base=settings.api_base,
            credentials=credentials,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            key_names=key_names,
            prices=settings.prices,
        )

    def context_window(self) -> int:
        """Input tokens the model accepts (a common size when litellm does not know it)."""
        try:
            info = litellm().get_model_info(self.model)
            return int(info.get("max_input_tokens") or info.get("max_tokens") or 128_000)
        except Exception:
            return 128_000

    def takes_images(self) -> bool:
        """Whether the model reads images (litellm's table); unknown counts as no."""
        try:
            return bool(litellm().supports_vision(model=self.model))
        except Exception:
            return False

    def price_known(self) -> bool:
        """Whether costs can be counted: prices from the settings, or from litellm's table."""
        return self.prices is not None or table_prices(self.model) is not None

    async def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> AsyncIterator[TextDelta | Retrying | Reply]:
        attempt = 0
        spent = Usage()  # what attempts that brought nothing still cost
        while True:
            try:
                async for item in self._stream_once(messages, tools):
                    if isinstance(item, Reply):
                        item.usage = spent + item.usage
                    yield item
                return
            except Exception as error:
                if isinstance(error, EmptyReply):
                    spent += error.usage
                failure = classify(error, self.endpoint)
                if attempt >= self._retries(failure):
                    raise LLMError(
                        _final_message(failure, attempt + 1),
                        config=failure.config,
                        detail=failure.detail,
                        usage=spent,
                        too_long=isinstance(error, litellm().exceptions.ContextWindowExceededError),
                    ) from error
                delay = self._delay(failure, attempt)
                attempt += 1
                yield Retrying(
                    attempt=attempt,
                    delay_seconds=round(delay, 2),
                    reason=failure.message,
                    detail=failure.detail,
                )
                await asyncio.sleep(delay)

    def _retries(self, failure: Failure) -> int:
        limits = {"no": 0, "once": 1, "brief": min(BRIEF_RETRIES, self.max_retries)}
        return limits.get(failure.retry, self.max_retries)

    def _delay(self, failure: Failure, attempt: int) -> float:
        if failure.wait is not None:
            return failure.wait
        if failure.retry == "once":
            return 0.0
        if failure.retry == "brief":
            return BRIEF_DELAY * 2**attempt
        backoff = min(self.retry_base_delay * 2**attempt, MAX_BACKOFF)
        return backoff * random.uniform(0.75, 1.25)

    async def _stream_once(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> AsyncIterator[TextDelta | Reply]:
        lib = litellm()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": with_cache_control(messages) if self.cache_control else messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.request_timeout,
            "max_retries": 0,
            "num_retries": 0,
        }
        if tools:
            kwargs["tools"] = tools
        if self.api_base:
            kwargs["api_base"] = self.api_base
        kwargs.update(self.credentials)
        response = await lib.acompletion(**kwargs)
        content_type, url, body = await _what_came(response)
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        last_key = 0
        usage = None
        finish = None
        size = 0
        try:
            async for chunk in response:
                usage = getattr(chunk, "usage", None) or usage
                for choice in chunk.choices or []:
                    delta = choice.delta
                    size += _streamed_size(delta)
                    if size > MAX_REPLY_CHARS:
                        raise ReplyTooLarge()  # the stream is closed below
                    if delta is not None and delta.content:
                        text.append(delta.content)
                        yield TextDelta(text=delta.content)
                    for part in (delta.tool_calls if delta is not None else None) or []:
                        last_key = _add_tool_call_part(calls, part, last_key)
                    finish = choice.finish_reason or finish
                if size > KEEP_LITELLM_COPIES_UNTIL:
                    _forget_litellm_copies(response)
        finally:
            with contextlib.suppress(Exception):
                await response.aclose()
        if not text and not calls:
            if content_type is not None and "stream" not in content_type:
                raise NotChatCompletion(self._not_a_completion(url, content_type, body))
            if finish is not None or usage is not None:
                # litellm makes up a closing chunk for a stream that had none (and no usage)
                raise EmptyReply(finish, self._usage(usage), chunks=usage is not None)
        if finish is None:
            raise IncompleteStream(
                f"the connection to {self.endpoint.where} closed before the reply was complete"
            )
        yield Reply(
            text="".join(text),
            tool_calls=[
                ToolCallInfo(id=c["id"], name=c["name"], arguments=c["arguments"])
                for _, c in sorted(calls.items())
            ],
            usage=self._usage(usage),
            finish_reason=finish,
        )

    def _not_a_completion(self, url: str | None, content_type: str, body: bytes | None) -> str:
        where = display_url(url) if url else self.endpoint.where
        said = _error_in(body)
        if said:
            return f"{where} answered with an error instead of a chat completion: {said}"
        hint = (
            "is --api-base right?"
            if self.api_base
            else "is a proxy or a captive portal in the way?"
        )
        return f"{where} answered with {content_type}, not a chat completion: {hint}"

    def _usage(self, usage: Any) -> Usage:
        if usage is None:
            return Usage()
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) or getattr(
            usage, "cache_read_input_tokens", 0
        )
        tokens_in = usage.prompt_tokens or 0
        tokens_out = usage.completion_tokens or 0
        if self.prices is not None:
            cost = (tokens_in * self.prices[0] + tokens_out * self.prices[1]) / 1_000_000
        else:
            try:
                cost = sum(litellm().cost_per_token(model=self.model, usage_object=usage))
            except Exception:
                cost = 0.0
        return Usage(
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cached_tokens=cached or 0,
            cost_usd=cost,
        )


def table_prices(model: str) -> tuple[float, float] | None:
    """litellm's US dollars per million input and output tokens for ``model``; None when it
    has none (it also counts some models it lists as free, which is no price either)."""
    try:
        prices = litellm().cost_per_token(
            model=model, prompt_tokens=1_000_000, completion_tokens=1_000_000
        )
    except Exception:
        return None
    return (prices[0], prices[1]) if sum(prices) > 0 else None


def _final_message(failure: Failure, attempts: int) -> str:
    message = failure.message
    if not message.startswith(("http://", "https://")):
        message = message[:1].upper() + message[1:]
    if attempts > 1:
        message = f"The model API failed {attempts} times in a row: {failure.message}"
    return message


async def _what_came(response: Any) -> tuple[str | None, str | None, bytes | None]:
    """The answer's content type, the URL that answered, and its body when that is small
    and not a stream (read now so an error in it can be quoted; the parser reads it after)."""
    hidden = getattr(response, "_hidden_params", None) or {}
    headers = hidden.get("additional_headers") or {}
    content_type = headers.get("llm_provider-content-type")
    content_type = content_type.split(";")[0].strip().lower() if content_type else None
    raw = getattr(getattr(response, "completion_stream", None), "response", None)
    url = str(getattr(raw, "url", "") or "") or hidden.get("api_base")
    body = None
    if content_type is not None and "stream" not in content_type and raw is not None:
        with contextlib.suppress(Exception):
            if int(raw.headers.get("content-length") or SMALL_BODY + 1) <= SMALL_BODY:
                body = await raw.aread()
    return content_type, url, body


def _error_in(body: bytes | None) -> str:
    """The message of an OpenAI-style ``{"error": …}`` body, if that is what it is."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return " ".join(str(error).split())[:300] if error else ""


def _streamed_size(delta: Any) -> int:
    """Characters a streamed delta adds to the reply: text, reasoning, tool-call parts."""
    if delta is None:
        return 0
    size = len(delta.content or "") + len(getattr(delta, "reasoning_content", None) or "")
    for part in delta.tool_calls or []:
        function = part.function
        size += len(part.id or "")
        if function is not None:
            size += len(function.name or "") + len(function.arguments or "")
    return size


def _forget_litellm_copies(response: Any) -> None:
    """Drop litellm's own copies of the reply so far.

    Its stream wrapper keeps every chunk (a few kB each: a 4 MB reply in 20-character pieces
    held a gigabyte) and re-concatenates the text on every chunk, only for its logging
    callbacks, which Shipmate does not use; this layer assembles the reply itself. The last
    two chunks stay: litellm compares them to catch a model repeating itself, and the usage
    chunk arrives last.
    """
    chunks = getattr(response, "chunks", None)
    if isinstance(chunks, list) and len(chunks) > 32:
        del chunks[:-2]
    if isinstance(getattr(response, "response_uptil_now", None), str):
        response.response_uptil_now = ""


def _add_tool_call_part(calls: dict[int, dict[str, str]], part: Any, last_key: int) -> int:
    """Fold one streamed tool-call fragment into ``calls``; returns the slot it went to.

    Fragments are keyed by index; a new id at a used index (some providers send every call
    at index 0) starts a new call.
    """
    key = part.index if part.index is not None else last_key
    slot = calls.get(key)
    if slot is not None and part.id and slot["id"] and part.id != slot["id"]:
        key = max(calls) + 1
        slot = None
    if slot is None:
        slot = calls[key] = {
            "id": part.id or f"call_{key}_{int(time.time())}",
            "name": "",
            "arguments": "",
        }
    function = part.function
    if function is not None:
        if function.name:
            slot["name"] = function.name
        if function.arguments:
            slot["arguments"] += function.arguments
    return key


def with_cache_control(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark the system prompt and the newest message as cache breakpoints (Anthropic).

    The prefix up to the newest message is then read from cache on the next call.
    """
    marked = list(messages)
    targets = {len(marked) - 1}
    if marked and marked[0].get("role") == "system":
        targets.add(0)
    for index in targets:
        message = marked[index]
        content = message.get("content")
        if isinstance(content, str) and content:
            blocks = [{"type": "text", "text": content, "cache_control": {"type": "ephemeral"}}]
            marked[index] = {**message, "content": blocks}
    return marked
