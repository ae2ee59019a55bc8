"""Model API keys: taken out of the environment once, kept in memory, given to litellm.

Every process Shipmate starts inherits ``os.environ`` unless told otherwise: git, the
sandbox's wrapper, a command the user let run outside the sandbox, the index's workers. A key
that is no longer in ``os.environ`` cannot leak through any of them, however they are
started, so ``capture()`` moves the keys into this module at start-up and the model client
passes them to litellm explicitly.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Iterable, MutableMapping

# Names that hold a key, a token or a password: every one leaves the environment, since a
# provider may read its key under any such name (FIREWORKS_AI_TOKEN, AWS_BEARER_TOKEN_BEDROCK,
# HF_TOKEN). A name ending in _FILE, _PATH or _DIR names a file, not a secret, and stays.
# A provider's other secrets (AWS keys for Bedrock) are taken once a model of it is used.
_SECRET_PARTS = frozenset(("TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY"))
_NOT_A_SECRET = frozenset(("FILE", "PATH", "DIR", "URL", "HOST", "PORT", "USER", "NAME"))
# Keys Shipmate chooses a model by; never given to a command, whatever pass_env says.
DEFAULT_MODEL_KEYS = (
    "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
    "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY",
)  # fmt: skip
# litellm arguments for the keys that are not the provider's plain ``api_key``.
ARGUMENTS = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
    "AZURE_AD_TOKEN": "azure_ad_token",
}
# Secrets a provider reads besides its ``*_API_KEY``; taken once a model of it is used.
PROVIDER_SECRETS = {
    "bedrock": (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_BEARER_TOKEN_BEDROCK",
    ),
    "sagemaker": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
    "azure": ("AZURE_AD_TOKEN",),
    "azure_ai": ("AZURE_AD_TOKEN",),
}
# What a provider may report missing that is a setting, not a secret; it stays in the
# environment, where litellm reads it.
SETTING = re.compile(r".*_(API_BASE|API_VERSION|BASE_URL|PROJECT|LOCATION|REGION|REGION_NAME)")

_keys: dict[str, str] = {}
_model_keys: set[str] = set()


def capture(names: Iterable[str] = (), environ: MutableMapping[str, str] | None = None) -> None:
    """Move every key-like variable (and ``names``) from the environment into memory."""
    environ = os.environ if environ is None else environ
    wanted = set(names)
    for name in list(environ):
        if name in wanted or is_key_name(name):
            if environ is os.environ:
                _wipe_from_process_memory(name)
            value = environ.pop(name)
            if value:
                _keys[name] = value


def is_key_name(name: str) -> bool:
    """Whether a variable's name says it holds a key, a token or a password."""
    upper = name.upper()
    parts = upper.split("_")
    if parts[-1] in _NOT_A_SECRET:
        return False
    return (
        bool(_SECRET_PARTS.intersection(parts))
        or upper.endswith("_KEY")
        or "API_KEY" in upper
        or "ACCESS_KEY" in upper
    )


def _wipe_from_process_memory(name: str) -> None:
    """Overwrite the value where the process was started with it: ``/proc/PID/environ`` shows
    that memory to every process of the user, whatever ``os.environ`` holds later."""
    try:
        libc = ctypes.CDLL(None)
        libc.getenv.restype = ctypes.c_void_p
        address = libc.getenv(name.encode())
        if address:
            ctypes.memset(address, ord("*"), len(ctypes.string_at(address)))
    except (OSError, AttributeError, ValueError):
        pass  # not glibc-like: the variable is still removed from the environment


def get(name: str) -> str | None:
    capture()
    return _keys.get(name)


def present() -> list[str]:
    """The names of the keys Shipmate holds (never their values)."""
    capture()
    return sorted(_keys)


def credentials(missing: Iterable[str], provider: str = "") -> tuple[dict[str, str], list[str]]:
    """litellm arguments for the variables a provider reports missing from the environment
    (and the other secrets it reads, taken from the environment now), and those it still
    lacks. Several names may stand for one argument (Gemini takes GEMINI_API_KEY or
    GOOGLE_API_KEY): one of them is enough."""
    unmet: list[str] = []
    groups: dict[str, list[str]] = {}
    capture(PROVIDER_SECRETS.get(provider, ()))
    extra = [name for name in PROVIDER_SECRETS.get(provider, ()) if name in _keys]
    for name in dict.fromkeys([*missing, *extra]):
        if SETTING.fullmatch(name):
            if not os.environ.get(name):  # some providers list every name if one is missing
                unmet.append(name)
        else:
            groups.setdefault(ARGUMENTS.get(name, "api_key"), []).append(name)
    capture(name for names in groups.values() for name in names)
    arguments: dict[str, str] = {}
    for argument, names in groups.items():
        _model_keys.update(names)
        value = next((_keys[name] for name in names if name in _keys), None)
        if value is None and argument == "api_key":
            value = _same_provider(names)
        if value is None:
            unmet += names
        else:
            arguments[argument] = value
    return arguments, unmet


def _same_provider(names: list[str]) -> str | None:
    """A key held under another name of the same provider (FIREWORKS_AI_TOKEN where litellm
    asks for FIREWORKS_AI_API_KEY): litellm would have read it from the environment."""
    for name in names:
        prefix = name.upper().removesuffix("_API_KEY").removesuffix("_KEY") + "_"
        for held in sorted(_keys):
            if held.upper().startswith(prefix) and held.upper().endswith(("_TOKEN", "_KEY")):
                _model_keys.add(held)
                return _keys[held]
    return None


def for_command(name: str) -> str | None:
    """A key the user passes to commands by name (``pass_env``), unless a model uses it."""
    capture()
    if name in _model_keys or name in DEFAULT_MODEL_KEYS:
        return None
    return _keys.get(name)


def redact(text: str) -> str:
    """``text`` with every key Shipmate holds replaced by ``***`` (a server may echo one, and a
    URL may carry one in its query)."""
    for value in _keys.values():
        if len(value) >= 8:
            text = text.replace(value, "***")
    return text


def clear() -> None:
    """Forget every key (tests start each case from a clean slate)."""
    _keys.clear()
    _model_keys.clear()
