"""A scripted OpenAI-compatible chat server for tests.

litellm talks to it over real HTTP (``openai/<name>`` + ``api_base``), so the whole client
path runs: SSE streaming, tool calls split across chunks, usage in the last chunk, and the
faults real providers produce (429 with Retry-After, 500, a connection dropped mid-stream,
malformed tool arguments, a stream that stalls) and those of a wrong or broken server (an
HTML page or other JSON answering 200, a stream without a chunk, a server too slow to answer).
``GET /v1/models`` lists the served model, as OpenAI-compatible servers do (and
``GET /api/tags``, as Ollama does).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    """One tool call in a scripted reply; ``arguments`` is sent verbatim when a string."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


@dataclass
class Reply:
    """A streamed assistant reply, in pieces of ``chunk`` characters; ``rate`` paces them
    (pieces per second, as a model streams tokens; 0: as fast as the socket takes them)."""

    text: str = ""
    calls: list[Call] = field(default_factory=list)
    prompt_tokens: int = 100
    completion_tokens: int = 20
    cached_tokens: int = 0
    chunk: int = 5
    rate: float = 0.0


@dataclass
class Fault:
    """A failure instead of a reply.

    kind: ``status`` (answer ``status`` with ``body`` of ``content_type`` and an optional
    ``retry_after``; a 200 with an HTML page is a wrong --api-base), ``drop`` (send part of a
    reply, then cut the connection), ``stall`` (send part, then hang ``seconds``), ``silent``
    (a 200 stream that ends without any chunk), ``slow`` (wait ``seconds`` before answering).
    """

    kind: str
    status: int = 500
    retry_after: float | None = None
    seconds: float = 30.0
    body: str = '{"error": {"message": "scripted failure", "type": "server_error"}}'
    content_type: str = "application/json"


def closed_port_url() -> str:
    """The URL of a local port where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def tool(name: str, **arguments: Any) -> Call:
    return Call(name, arguments)


class ScriptedLLM:
    """Serves the script in order; each request consumes one item, except those ``answer``
    (given the request's body) replies to itself: requests that come at times a script
    cannot know, such as the summary calls of a compaction."""

    def __init__(self, script: list[Reply | Fault] | None = None, model: str = "scripted") -> None:
        self.script: list[Reply | Fault] = list(script or [])
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.request_times: list[float] = []
        self.finished_times: list[float] = []  # when each stream's last piece was sent
        self.gets: list[tuple[str, dict[str, str]]] = []
        self.models_fault: Fault | None = None  # a ``status`` fault answers GET /v1/models
        self.answer: Callable[[dict[str, Any]], Reply | Fault | None] | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *items: Reply | Fault) -> None:
        with self._lock:
            self.script.extend(items)

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply | Fault | None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.request_times.append(time.monotonic())
            answered = self.answer(body) if self.answer is not None else None
            if answered is not None:
                return answered
            return self.script.pop(0) if self.script else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                owner.gets.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                fault = owner.models_fault
                if fault is not None:
                    self._send(fault.status, fault.body, fault.retry_after, fault.content_type)
                    return
                if self.path.rstrip("/") == "/v1/models":
                    models = {"object": "list", "data": [{"id": owner.model, "object": "model"}]}
                    self._send(200, json.dumps(models))
                elif self.path == "/api/tags":  # Ollama's own API
                    self._send(200, json.dumps({"models": [{"name": f"{owner.model}:latest"}]}))
                else:
                    self._send(404, '{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                item = owner._next(body, {k.lower(): v for k, v in self.headers.items()})
                if isinstance(item, Fault) and item.kind == "slow":
                    time.sleep(item.seconds)
                    item = Reply(text="too late")
                if item is None:
                    self._send(500, '{"error": {"message": "the test script ran out of replies"}}')
                elif isinstance(item, Fault) and item.kind == "status":
                    self._send(item.status, item.body, item.retry_after, item.content_type)
                elif isinstance(item, Fault) and item.kind == "silent":
                    self._send(200, "data: [DONE]\n\n", content_type="text/event-stream")
                elif body.get("stream"):
                    self._stream(item, body)
                else:
                    self._whole(item)

            def _send(
                self,
                status: int,
                text: str,
                retry_after: float | None = None,
                content_type: str = "application/json",
            ) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, payload: dict[str, Any] | str) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data = f"data: {text}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, item: Reply | Fault, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                reply = item if isinstance(item, Reply) else Reply(text="partial reply that ")
                deltas = list(_deltas(reply))
                if isinstance(item, Fault):
                    for delta in deltas[:2]:
                        self._chunk(_frame(owner.model, delta))
                    if item.kind == "stall":
                        time.sleep(item.seconds)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                began = time.monotonic()
                for number, delta in enumerate(deltas):
                    if reply.rate:  # on a schedule, so slow writes do not add up
                        time.sleep(max(0.0, began + number / reply.rate - time.monotonic()))
                    self._chunk(_frame(owner.model, delta))
                finish = "tool_calls" if reply.calls else "stop"
                self._chunk(_frame(owner.model, {}, finish))
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._chunk({**_frame(owner.model, None), "usage": _usage(reply)})
                self._chunk("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                owner.finished_times.append(time.monotonic())

            def _whole(self, item: Reply | Fault) -> None:
                reply = item if isinstance(item, Reply) else Reply()
                message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
                if reply.calls:
                    message["tool_calls"] = [
                        {
                            "id": f"call_{i}",
                            "type": "function",
                            "function": {"name": c.name, "arguments": _args(c)},
                        }
                        for i, c in enumerate(reply.calls)
                    ]
                data = json.dumps(
                    {
                        "id": "chatcmpl-scripted",
                        "object": "chat.completion",
                        "created": 0,
                        "model": owner.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "finish_reason": "tool_calls" if reply.calls else "stop",
                            }
                        ],
                        "usage": _usage(reply),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _args(call: Call) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _deltas(reply: Reply):
    if reply.text:
        yield {"role": "assistant", "content": ""}
        for piece in _pieces(reply.text, reply.chunk):
            yield {"content": piece}
    for index, call in enumerate(reply.calls):
        yield {
            "tool_calls": [
                {
                    "index": index,
                    "id": f"call_{index}_{call.name}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        }
        for piece in _pieces(_args(call), reply.chunk):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def _frame(model: str, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
    }


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
    }
