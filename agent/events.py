"""The typed event stream every front-end consumes.

``shipmate run --output-format stream-json`` writes these models as JSON lines, so the wire
format and the code are one thing. Each event's line starts with ``type``, then ``ts`` (when
it happened, ISO-8601 UTC).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from tools.names import safe_text


class Record(BaseModel):
    """Base of every event: its text always encodes as UTF-8, so it can be written as JSON
    or stored. A file name that is not UTF-8 arrives with its stray bytes as lone surrogates;
    they become ``\\xNN`` here, the form the tools accept back."""

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, data: Any) -> Any:
        return _encodable(data)


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


ToolKindName = Literal["read", "edit", "execute", "git", "plan"]
ToolStatus = Literal["ok", "error", "denied", "cancelled"]
RunStatus = Literal["success", "failed", "config_error", "budget_exceeded", "cancelled"]
# Why a tool call was refused, so the fix offered is the right one: the run was read-only, a
# deny rule, no sandbox, a command that asked to leave the sandbox, a secret file, a command
# whose effect cannot be checked, one that writes outside the workspace (no rule allows
# that), or an ordinary action that needs approval in this mode.
Refusal = Literal[
    "read_only",
    "deny_rule",
    "no_sandbox",
    "outside_sandbox",
    "secret_file",
    "unverifiable",
    "writes_outside",
    "needs_approval",
]


def _now() -> str:
    now = datetime.datetime.now(datetime.UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventRecord(Record):
    """Base of the events: ``ts`` says when it happened; ``type`` still comes first."""

    ts: str = Field(default_factory=_now)

    @model_serializer(mode="wrap")
    def _type_first(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if "type" not in data:  # excluded by the caller
            return data
        return {"type": data.pop("type"), **data}


class Usage(Record):
    """Token counts and cost; ``cached_tokens`` are the part of the input served from cache."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class ToolCallInfo(Record):
    id: str
    name: str
    arguments: str


class PlanItem(Record):
    step: str = Field(description="What to do, as a short imperative sentence.")
    status: Literal["pending", "in_progress", "completed"] = "pending"


class PermissionDenial(Record):
    call_id: str
    tool: str
    kind: ToolKindName
    summary: str
    reason: str
    refusal: Refusal = "needs_approval"
    rule: str | None = None
    suggestion: str | None = None
    path: str | None = None


class SessionStarted(EventRecord):
    type: Literal["session_started"] = "session_started"
    session_id: str
    model: str
    workspace: str
    approval: str
    tools: list[str]
    sandbox: str = ""
    notices: list[str] = []
    resumed: bool = Field(False, description="The session goes on from an earlier one")


class UserMessage(EventRecord):
    """What the user said; a transcript replays from these and the agent's answers."""

    type: Literal["user_message"] = "user_message"
    text: str
    files: list[str] = Field(
        default_factory=list, description="Files the user mentioned with @ that joined the context"
    )


class IndexReady(EventRecord):
    """The code index is current (``problem`` says why the session runs without it)."""

    type: Literal["index_ready"] = "index_ready"
    files: int = 0
    seconds: float = 0.0
    cold: bool = False
    problem: str | None = None


class TextDelta(EventRecord):
    type: Literal["text_delta"] = "text_delta"
    text: str


class AssistantMessage(EventRecord):
    type: Literal["assistant_message"] = "assistant_message"
    text: str
    tool_calls: list[ToolCallInfo] = []


class ToolStarted(EventRecord):
    """``kind`` is None when the model named a tool that does not exist."""

    type: Literal["tool_started"] = "tool_started"
    call_id: str
    name: str
    kind: ToolKindName | None
    summary: str
    arguments: dict[str, Any] = {}
    server: str | None = Field(None, description="The MCP server whose tool this is")


class ApprovalRequested(EventRecord):
    """``reason`` says why it asks; ``suggestion`` is the rule "allow always" would save."""

    type: Literal["approval_requested"] = "approval_requested"
    call_id: str
    name: str
    kind: ToolKindName
    summary: str
    reason: str = ""
    suggestion: str | None = None


class ToolFinished(EventRecord):
    """A ``denied`` call says why in ``refusal``: with the deny ``rule`` that refused it, the
    ``suggestion`` (a rule) that would allow it, or the secret file's ``path``."""

    type: Literal["tool_finished"] = "tool_finished"
    call_id: str
    name: str
    status: ToolStatus
    summary: str
    output: str = ""
    diff: str | None = None
    files_changed: list[str] = []
    refusal: Refusal | None = None
    rule: str | None = None
    suggestion: str | None = None
    path: str | None = None
    # Instruction files (a nested AGENTS.md) the model was given with this result.
    instructions: list[str] = []
    server: str | None = Field(None, description="The MCP server whose tool this is")


class PlanUpdated(EventRecord):
    type: Literal["plan_updated"] = "plan_updated"
    items: list[PlanItem]


class UsageUpdated(EventRecord):
    """Usage of one model call (``call``) and of the whole run so far (``total``)."""

    type: Literal["usage"] = "usage"
    call: Usage
    total: Usage


class Retrying(EventRecord):
    """A model call failed in a way worth retrying; any partial text streamed is void."""

    type: Literal["retrying"] = "retrying"
    attempt: int
    delay_seconds: float
    reason: str
    detail: str = Field("", description="The raw error, as the libraries gave it")


class Committed(EventRecord):
    """The agent committed ``files`` (``auto``: at the end of a turn, by the auto_commit
    setting; ``wip``: the user's own uncommitted changes, kept before Shipmate edits them)."""

    type: Literal["committed"] = "committed"
    commit: str
    subject: str
    files: list[str]
    auto: bool = False
    wip: bool = False


class Error(EventRecord):
    type: Literal["error"] = "error"
    message: str
    fatal: bool = True
    detail: str = Field("", description="The raw error behind the message, if any")


class ContextUpdated(EventRecord):
    """How full the model's window is after a model call: the history as it stands (past
    ``compact_at`` the next request is compacted first, so ``percent`` may pass 100)."""

    type: Literal["context"] = "context"
    tokens: int
    window: int
    percent: float


class Compacted(EventRecord):
    """Older history was shrunk to fit the window; the stored session keeps all of it."""

    type: Literal["compacted"] = "compacted"
    tokens_before: int
    tokens_after: int
    messages_summarised: int = Field(0, description="0 when only old tool outputs were dropped")
    summary: str = ""
    upto: int = Field(0, description="Messages before this position are replaced by the summary")
    outputs_dropped_before: int = Field(
        0, description="Tool outputs before this position are sent as one-line stubs"
    )


class FailedTest(Record):
    """One failing test of a run: ``kind`` tells a failed assertion from an error in a test
    and from a file that could not be collected or compiled; ``pre_existing``: it failed
    before the agent's first edit too (known when auto-test measured it)."""

    __test__: ClassVar[bool] = False  # not a pytest test class, whatever its name says
    test_id: str
    message: str = ""
    kind: Literal["failed", "error", "collection"] = "failed"
    pre_existing: bool = False


class TestsFinished(EventRecord):
    """A test run ended: after every ``run_tests`` call (after its ``tool_finished``, with its
    ``call_id``) and every auto-test run (``auto_test``; ``baseline`` for the run before the
    agent's first edit). ``summary`` is the counts line, or why there are no counts;
    ``failures`` lists at most 200 of them (``failures_total`` counts all)."""

    __test__: ClassVar[bool] = False
    type: Literal["test"] = "test"
    command: str
    summary: str
    counts: dict[str, int] = {}
    failures: list[FailedTest] = []
    failures_total: int = 0
    seconds: float = 0.0
    exit_code: int | None = None
    timed_out: bool = False
    auto_test: bool = False
    baseline: bool = False
    call_id: str | None = None
    log: str | None = None


class AutoTestReport(Record):
    """Where auto-test left the tests when the turn ended: the last run's ``summary``, the
    fix ``rounds`` the model was given, and what still ``failing`` (pre-existing ones
    marked)."""

    command: str
    summary: str
    rounds: int = 0
    failing: list[FailedTest] = []


class TurnFinished(EventRecord):
    type: Literal["turn_finished"] = "turn_finished"
    turn: int


class Result(EventRecord):
    type: Literal["result"] = "result"
    status: RunStatus
    result: str = ""
    error: str | None = None
    turns: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    files_changed: list[str] = []
    permission_denials: list[PermissionDenial] = []
    hints: list[str] = []
    session_id: str | None
    duration_ms: int = 0
    auto_test: AutoTestReport | None = None


Event = Annotated[
    SessionStarted
    | UserMessage
    | IndexReady
    | TextDelta
    | AssistantMessage
    | ToolStarted
    | ApprovalRequested
    | ToolFinished
    | PlanUpdated
    | UsageUpdated
    | Retrying
    | Committed
    | Error
    | ContextUpdated
    | Compacted
    | TestsFinished
    | TurnFinished
    | Result,
    Field(discriminator="type"),
]
