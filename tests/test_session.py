"""The session store: what one record may hold is bounded, and it still reads back."""

from __future__ import annotations

from pathlib import Path

from agent.events import AssistantMessage, ToolCallInfo, ToolFinished
from agent.session import MAX_STORED_CHARS, SessionStore


def test_long_text_is_cut_with_a_marker_and_ids_stay_whole(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.db")
    store.create("s", tmp_path, "model", "title")
    call = ToolCallInfo(id="call_1", name="write_file", arguments='{"path": "x"}')
    store.add_event("s", AssistantMessage(text="a" * 1_000_000, tool_calls=[call]))
    store.add_message("s", 0, {"role": "tool", "tool_call_id": "call_1", "content": "b" * 500_000})
    (event,) = store.events("s")
    assert event["type"] == "assistant_message"
    # Every string counts against the room (the type, the keys), the long one gets the rest.
    kept, _, cut = event["text"].partition("… [")
    assert kept == "a" * len(kept) and MAX_STORED_CHARS - 100 < len(kept) <= MAX_STORED_CHARS
    assert cut == f"{1_000_000 - len(kept):,} characters cut]"
    assert event["tool_calls"] == [call.model_dump()]
    (message,) = store.messages("s")
    assert message["tool_call_id"] == "call_1" and message["role"] == "tool"
    kept, _, cut = message["content"].partition("… [")
    assert MAX_STORED_CHARS - 100 < len(kept) <= MAX_STORED_CHARS
    assert cut == f"{500_000 - len(kept):,} characters cut]"


def test_long_fields_share_one_budget(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.db")
    finished = ToolFinished(
        call_id="c",
        name="edit_file",
        status="ok",
        summary="edited",
        output="o" * 150_000,
        diff="d" * 150_000,
    )
    store.add_event("s", finished)
    (event,) = store.events("s")
    assert event["output"] == "o" * 150_000
    kept, _, cut = event["diff"].partition("… [")
    assert kept == "d" * len(kept) and 49_900 < len(kept) <= 50_000
    assert cut == f"{150_000 - len(kept):,} characters cut]"
    assert (event["call_id"], event["summary"]) == ("c", "edited")


def test_short_records_are_stored_as_they_are(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.db")
    message = {"role": "user", "content": "fix it ✓", "extra": [1, 2.5, None, True]}
    store.add_message("s", 0, message)
    assert store.messages("s") == [message]
