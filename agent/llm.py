"""Talking to the model through litellm: one streamed call, retried when the fault passes.

This layer owns retries: litellm's and the OpenAI SDK's own are switched off, so waits never
multiply. A call yields ``TextDelta`` as text arrives, ``Retrying`` before each new attempt
(text streamed so far is then void), and finally one ``Reply`` with the tool calls assembled
from their chunks, the usage and the cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agent import keys
from agent.config import ConfigError, Settings, choose_model
from agent.events import Retrying, TextDelta, ToolCallInfo, Usage

MAX_RETRY_AFTER = 60.0
MAX_BACKOFF = 30.0
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
    """The model call failed for good. ``config`` marks faults the user must fix (key, model)."""

    def __init__(self, message: str, *, config: bool = False) -> None:
        super().__init__(message)
        self.config = config


class IncompleteStream(Exception):
    """The stream ended without a finish reason: the connection was cut."""


class ReplyTooLarge(Exception):
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
    """Import litellm on first use: it costs seconds, and must not fetch its price table."""
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
    ) -> None:
        """``credentials`` are litellm arguments (``api_key``, ``aws_secret_access_key`` …):
        keys are passed explicitly, never left in the environment for children to inherit."""
        self.model = model
        self.api_base = api_base
        self.credentials = dict(credentials or {})
        if api_key:
            self.credentials["api_key"] = api_key
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        provider = litellm().get_llm_provider(model, api_base=api_base)[1]
        self.cache_control = provider in CACHE_CONTROL_PROVIDERS and "claude" in model.lower()

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
        credentials, missing = keys.credentials(
            lib.validate_environment(model=model, api_base=settings.api_base)["missing_keys"],
            provider,
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
        )

    def context_window(self) -> int:
        """Input tokens the model accepts (a common size when litellm does not know it)."""
        try:
            info = litellm().get_model_info(self.model)
            return int(info.get("max_input_tokens") or info.get("max_tokens") or 128_000)
        except Exception:
            return 128_000

    async def stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> AsyncIterator[TextDelta | Retrying | Reply]:
        attempt = 0
        while True:
            try:
                async for item in self._stream_once(messages, tools):
                    yield item
                return
            except Exception as error:
                fatal = _fatal(error)
                if fatal is not None:
                    raise fatal from error
                if attempt >= self.max_retries:
                    raise LLMError(
                        f"The model API failed {attempt + 1} times in a row; last error: "
                        f"{_describe(error)}"
                    ) from error
                delay = self._delay(error, attempt)
                attempt += 1
                yield Retrying(
                    attempt=attempt, delay_seconds=round(delay, 2), reason=_describe(error)
                )
                await asyncio.sleep(delay)

    def _delay(self, error: Exception, attempt: int) -> float:
        after = _retry_after(error)
        if after is not None:
            return min(after, MAX_RETRY_AFTER)
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
        if finish is None:
            raise IncompleteStream("the connection closed before the reply was complete")
        yield Reply(
            text="".join(text),
            tool_calls=[
                ToolCallInfo(id=c["id"], name=c["name"], arguments=c["arguments"])
                for _, c in sorted(calls.items())
            ],
            usage=self._usage(usage),
            finish_reason=finish,
        )

    def _usage(self, usage: Any) -> Usage:
        if usage is None:
            return Usage()
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) or getattr(
            usage, "cache_read_input_tokens", 0
        )
        try:
            cost = sum(litellm().cost_per_token(model=self.model, usage_object=usage))
        except Exception:
            cost = 0.0
        return Usage(
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
            cached_tokens=cached or 0,
            cost_usd=cost,
        )


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


def _status(error: Exception) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def _fatal(error: Exception) -> LLMError | None:
    """An LLMError when retrying cannot help; None when it might."""
    lib = litellm()
    exceptions = lib.exceptions
    if isinstance(error, exceptions.AuthenticationError):
        return LLMError(
            f"The API rejected the key (401): check the key for this model. {_describe(error)}",
            config=True,
        )
    if isinstance(error, exceptions.PermissionDeniedError):
        return LLMError(f"The API refused access (403). {_describe(error)}", config=True)
    if isinstance(error, exceptions.NotFoundError):
        return LLMError(
            f"The API does not know this model (404): check --model. {_describe(error)}",
            config=True,
        )
    if isinstance(error, exceptions.ContextWindowExceededError):
        return LLMError(
            f"The conversation no longer fits the model's context window. {_describe(error)}"
        )
    if isinstance(error, IncompleteStream | asyncio.TimeoutError):
        return None
    if isinstance(error, exceptions.Timeout | exceptions.APIConnectionError):
        return None
    status = _status(error)
    if status in (408, 409, 429) or (status is not None and status >= 500):
        return None
    if isinstance(error, exceptions.BadRequestError) or status is not None:
        return LLMError(f"The model API refused the request: {_describe(error)}")
    import httpx

    if isinstance(error, httpx.TransportError):
        return None
    return LLMError(f"The model call failed: {_describe(error)}")


def _retry_after(error: Exception) -> float | None:
    headers = None
    response = getattr(error, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    headers = headers or getattr(error, "litellm_response_headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


def _describe(error: Exception) -> str:
    """One line without litellm's provider banners."""
    if isinstance(error, IncompleteStream):
        return str(error)
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    line = line.removeprefix("litellm.")
    status = _status(error)
    if status and str(status) not in line:
        line = f"{status} {line}"
    return line[:300]
