"""What went wrong talking to the model, in one sentence the user can act on.

litellm wraps every fault in its own types (a refused connection arrives as ``500
InternalServerError … Connection error``), so the cause is found by walking the exception
chain down to the socket, and each message names the server's URL when --api-base set it.
The raw text is kept apart for ``--verbose``. Nothing here imports litellm at import time:
``shipmate doctor`` shares the wording without it.
"""

from __future__ import annotations

import contextlib
import email.utils
import http
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from agent import keys
from agent.events import Usage

# How often a failure may be retried: never, once (an empty reply), briefly (a local server
# that is not running: seconds, not the full backoff), or up to max_retries.
RetryKind = Literal["no", "once", "brief", "yes"]
BRIEF_RETRIES = 2
BRIEF_DELAY = 0.5
# A Retry-After longer than this is not waited for: the run fails and says when to come back.
MAX_RETRY_AFTER = 60.0
TIMEOUT_HINT = "the request_timeout setting, e.g. SHIPMATE_REQUEST_TIMEOUT=600"
URL = re.compile(r"https?://[^\s'\"<>]+")


class APIAnswerError(Exception):
    """The server answered, but not with a usable reply; the message says what came."""

    retry: RetryKind = "no"


class NotChatCompletion(APIAnswerError):
    """HTTP 200 with something else than a chat completion (an HTML page, other JSON)."""


class EmptyReply(APIAnswerError):
    """A reply with no text and no tool calls: asked once more, then the run fails."""

    retry = "once"

    def __init__(self, finish_reason: str | None, usage: Usage, *, chunks: bool = True) -> None:
        if not chunks:
            message = "the model's reply stream ended without a single chunk"
        else:
            message = "the model sent an empty reply, with no text and no tool calls"
        if finish_reason not in (None, "stop"):
            message += f" (finish reason: {finish_reason})"
        super().__init__(message)
        self.usage = usage


class IncompleteStream(APIAnswerError):
    """The stream ended without a finish reason: the connection was cut."""

    retry = "yes"


@dataclass(frozen=True)
class Endpoint:
    """Where model calls go, as the user named it, for messages."""

    model: str
    api_base: str | None = None
    provider: str = ""
    key_names: tuple[str, ...] = ()
    request_timeout: float = 300.0

    @property
    def where(self) -> str:
        if self.api_base:
            return display_url(self.api_base)
        return f"the {self.provider} API" if self.provider else "the model API"

    @property
    def served_name(self) -> str:
        """The model name the server sees (without litellm's provider prefix)."""
        if self.provider and self.model.startswith(f"{self.provider}/"):
            return self.model.removeprefix(f"{self.provider}/")
        return self.model


@dataclass
class Failure:
    """A failed call, classified: the sentence for the user, and whether to ask again."""

    message: str
    retry: RetryKind = "yes"
    config: bool = False
    wait: float | None = None
    detail: str = field(default="", repr=False)


def display_url(url: str) -> str:
    """The URL without credentials, query or fragment (a key may ride in either)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return url.strip().split("?")[0]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def is_local(url: str | None) -> bool:
    """Whether the URL's host is this machine or the local network (a server the user runs)."""
    host = (urlsplit(url).hostname or "") if url else ""
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def not_listening(url: str) -> str:
    return f"nothing is listening at {display_url(url)} — is the server running?"


def causes(error: BaseException) -> list[BaseException]:
    """The error and every error it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def raw(error: BaseException) -> str:
    """The whole chain as the libraries said it, for --verbose."""
    lines = []
    for cause in causes(error):
        text = " ".join(str(cause).split())
        lines.append(f"{type(cause).__name__}: {text}" if text else type(cause).__name__)
    return " ← ".join(dict.fromkeys(lines))[:2000]


def status_of(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def server_message(error: BaseException) -> str:
    """What the server said, without litellm's prefixes ("litellm.X: X: OpenAIException - ")."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    text = text.rsplit("Exception - ", 1)[-1].strip()
    if text.startswith("Error code:") or text.lower().rstrip(".") == "connection error":
        return ""
    return text[:200]


def classify(error: BaseException, endpoint: Endpoint) -> Failure:
    failure = _classify(error, endpoint)
    failure.message = scrub(failure.message)
    failure.detail = scrub(raw(error))
    return failure


def scrub(text: str) -> str:
    """Text that may quote a URL or a server's words, without credentials or keys in it."""
    return keys.redact(URL.sub(lambda match: display_url(match.group()), text))


def _classify(error: BaseException, endpoint: Endpoint) -> Failure:
    from agent.llm import litellm

    exceptions = litellm().exceptions
    where = endpoint.where
    if isinstance(error, APIAnswerError):
        return Failure(str(error), retry=error.retry)
    chain = causes(error)
    if any(_is_timeout(cause, exceptions) for cause in chain):
        return Failure(
            f"{where} did not answer within {endpoint.request_timeout:g} s (to wait longer, "
            f"raise {TIMEOUT_HINT})"
        )
    connection = _connection_failure(chain, endpoint)
    if connection is not None:
        return connection
    said = server_message(error)
    mid_stream = getattr(exceptions, "MidStreamFallbackError", ())  # litellm 1.7x and later
    if _is_connection_error(chain, exceptions):
        # litellm calls a broken connection a 500 (or a "mid-stream" error): no server said so
        if isinstance(error, mid_stream):
            return Failure(f"the connection to {where} broke off in the middle of the reply")
        return Failure(f"the connection to {where} failed ({_root(chain)})")
    if isinstance(error, mid_stream):
        return Failure(f"{where} broke off the reply with an error: {said or 'no reason given'}")
    status = status_of(error)
    if isinstance(error, exceptions.ContextWindowExceededError):
        return Failure("the conversation no longer fits the model's context window", retry="no")
    if status in (401, 403):
        return _key_failure(status, endpoint)
    if status == 404:
        if endpoint.api_base:
            message = (
                f"{where} answered 404 Not Found for the model '{endpoint.served_name}': check "
                "--model (the name the server serves) and --api-base (usually ending in /v1)"
            )
        else:
            message = f"{where} does not know the model '{endpoint.model}' (404): check --model"
        return Failure(message, retry="no", config=True)
    if status == 429:
        wait = retry_after(error)
        if wait is not None and wait > MAX_RETRY_AFTER:
            return Failure(
                f"{where} is rate-limiting these requests (429) and asks to wait "
                f"{_duration(wait)}: try again later",
                retry="no",
            )
        return Failure(f"{where} is rate-limiting these requests (429)", wait=wait)
    if status is not None and (status in (408, 409) or status >= 500):
        wait = retry_after(error)  # an overloaded server may say when to come back, too
        if wait is not None and wait > MAX_RETRY_AFTER:
            return Failure(
                f"{_answered(where, status, said)}; it asks to wait {_duration(wait)}: try "
                "again later",
                retry="no",
            )
        return Failure(_answered(where, status, said), wait=wait)
    if status is not None:
        return Failure(_answered(where, status, said), retry="no")
    return Failure(f"the model call failed: {said or _root(chain)}", retry="no")


def _is_timeout(error: BaseException, exceptions: Any) -> bool:
    import httpx

    return isinstance(error, exceptions.Timeout | httpx.TimeoutException | TimeoutError)


def _is_connection_error(chain: list[BaseException], exceptions: Any) -> bool:
    """Whether the connection failed (rather than a server answering with an error)."""
    import httpx

    if any(isinstance(cause, httpx.HTTPStatusError) for cause in chain):
        return False
    kinds = (exceptions.APIConnectionError, httpx.TransportError, ConnectionError)
    return any(isinstance(cause, kinds) for cause in chain)


def _connection_failure(chain: list[BaseException], endpoint: Endpoint) -> Failure | None:
    """A failure to reach the server at all, named as such; None when it was reached."""
    where = endpoint.where
    for cause in reversed(chain):  # the socket's own error, not a library's copy of it
        if isinstance(cause, ConnectionRefusedError):
            if endpoint.api_base and is_local(endpoint.api_base):
                return Failure(not_listening(endpoint.api_base), retry="brief")
            return Failure(f"{where} refused the connection — is the server running?")
        if isinstance(cause, socket.gaierror):
            return Failure(_unresolved(endpoint), retry="brief")
        if isinstance(cause, ssl.SSLError):
            return Failure(_tls(cause, endpoint), retry="no", config=bool(endpoint.api_base))
    return None


def _unresolved(endpoint: Endpoint) -> str:
    if endpoint.api_base:
        host = urlsplit(endpoint.api_base).hostname or endpoint.api_base
        return (
            f"the host '{host}' of {endpoint.where} cannot be found (DNS): check --api-base "
            "and your network"
        )
    return f"{endpoint.where} cannot be reached: its host name cannot be found (are you offline?)"


def _tls(error: ssl.SSLError, endpoint: Endpoint) -> str:
    reason = getattr(error, "reason", None) or str(error)
    if reason == "WRONG_VERSION_NUMBER" and endpoint.api_base:
        return (
            f"{endpoint.where} does not speak TLS (HTTPS): if the server is plain HTTP, use "
            "http:// in --api-base"
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {endpoint.where} is not trusted ({error.verify_message}): "
            "point SSL_CERT_FILE at the CA bundle that signed it"
        )
    return f"the TLS (HTTPS) connection to {endpoint.where} failed ({reason})"


def _key_failure(status: int, endpoint: Endpoint) -> Failure:
    names = " or ".join(endpoint.key_names)
    if status == 401:
        fix = f"set {names} to a valid key" if names else "check the API key"
        message = f"{endpoint.where} rejected the API key (401): {fix}"
    else:
        whose = f"the key in {names}" if names else "the API key"
        message = (
            f"{endpoint.where} refused access (403): {whose} is not allowed to use "
            f"'{endpoint.served_name}'"
        )
    return Failure(message, retry="no", config=True)


def _answered(where: str, status: int, said: str) -> str:
    try:
        phrase = f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        phrase = str(status)
    return f"{where} answered {phrase}" + (f": {said}" if said else "")


def _root(chain: list[BaseException]) -> str:
    last = chain[-1]
    text = " ".join(str(last).split())[:200]
    return f"{type(last).__name__}: {text}" if text else type(last).__name__


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def retry_after(error: BaseException) -> float | None:
    """Seconds the server asked to wait (Retry-After, in seconds or as a date), if it did."""
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
