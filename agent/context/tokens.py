"""Token accounting: how many tokens a request takes, and how many the model accepts.

Counts come from litellm's counter for the model (its tokenizer loads on first use) and are
cached per message, so a long session recounts only what is new: a request is rebuilt from
the stored history before every model call. Where litellm has no counter that works, a
deliberately generous estimate stands in, so a request is never thought smaller than it is.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from agent.llm import LLM, litellm

# A common window when neither the settings nor litellm's metadata know the model's.
DEFAULT_WINDOW = 128_000
# Code and JSON run at 3.5-5 characters a token in the tokenizers litellm knows; 3 errs
# towards counting a request larger than it is.
CHARS_PER_TOKEN = 3
# What an image costs when the tokenizer is not at hand: about what the providers charge for
# a large one (Claude ~1,600, GPT-4o ~1,100 for 1024×1024).
IMAGE = 1_600
# Tokens each message costs beyond its content (role, separators), as OpenAI counts them.
PER_MESSAGE = 4
# Counts kept per distinct message; a session's history is far smaller.
CACHE_SIZE = 20_000


def context_window(llm: LLM, configured: int | None) -> int:
    """Input tokens the model accepts: the ``context_window`` setting, else litellm's."""
    return configured or llm.context_window() or DEFAULT_WINDOW


class TokenCounter:
    """Counts tokens the way the model's tokenizer would, as closely as litellm knows it."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.estimated = False  # litellm's counter failed once: estimate from then on
        self._cache: dict[bytes, int] = {}

    def message(self, message: dict[str, Any]) -> int:
        """One message's tokens, counted once per distinct message."""
        text = json.dumps(message, sort_keys=True, ensure_ascii=False)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        tokens = self._cache.get(key)
        if tokens is None:
            tokens = self._count(message, text)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = tokens
        return tokens

    def messages(self, messages: list[dict[str, Any]]) -> int:
        return sum(self.message(message) for message in messages)

    def request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
        """What a request sends: its messages and its tools' definitions."""
        tokens = self.messages(messages)
        if tools:
            tokens += self.text(json.dumps(tools))
        return tokens

    def text(self, text: str) -> int:
        if not text:
            return 0
        return self.message({"role": "user", "content": text}) - PER_MESSAGE

    def _count(self, message: dict[str, Any], text: str) -> int:
        if not self.estimated:
            try:
                return int(litellm().token_counter(model=self.model, messages=[message]))
            except Exception:  # no tokenizer for this model here (or one that broke)
                self.estimated = True
        content = message.get("content")
        if isinstance(content, list):  # an image's base64 is not its tokens
            images = [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
            rest = {**message, "content": [p for p in content if p not in images]}
            text = json.dumps(rest, sort_keys=True, ensure_ascii=False)
            return math.ceil(len(text) / CHARS_PER_TOKEN) + PER_MESSAGE + IMAGE * len(images)
        return math.ceil(len(text) / CHARS_PER_TOKEN) + PER_MESSAGE
