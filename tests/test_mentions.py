"""Files named with ``@path`` in a message join its context: read as read_file reads them,
secret files and paths outside the workspace refused with the reason, never sent."""

from __future__ import annotations

from pathlib import Path

from agent.context.mentions import mentioned
from agent.events import Error, UserMessage

from helpers import drain, make_agent
from scripted_llm import Reply, ScriptedLLM


def test_mentions_are_found_once_without_trailing_punctuation() -> None:
    text = "look at @a.py, then @src/b.ts. And @a.py again; mail me@example.com (@c.md)"
    assert mentioned(text) == ["a.py", "src/b.ts"]
    assert mentioned("@x.py\n@../y.txt!") == ["x.py", "../y.txt"]
    assert mentioned("no mentions here") == []


async def test_a_mentioned_file_joins_the_context_and_a_secret_does_not(
    llm: ScriptedLLM, repo: Path
) -> None:
    (repo / ".env").write_text("API_KEY=sk-very-secret\n")
    outside = repo.parent / "outside.txt"
    outside.write_text("private notes outside\n")
    llm.add(Reply(text="Seen."))
    agent = make_agent(llm, repo)
    text = f"fix @textutil.py using @.env and @../outside.txt and @{outside} and @nothing.py"
    events = await drain(agent, text)
    (said,) = [event for event in events if isinstance(event, UserMessage)]
    assert said.text == text
    assert said.files == ["textutil.py"]
    refusals = [event.message for event in events if isinstance(event, Error)]
    assert len(refusals) == 3, refusals
    assert refusals[0].startswith("@.env not attached") and "secrets" in refusals[0]
    assert all("outside the workspace" in message for message in refusals[1:])
    sent = llm.requests[0]["messages"][-1]["content"]
    assert '<file path="textutil.py">' in sent
    assert "1\timport re" in sent  # numbered, as read_file shows it
    assert "sk-very-secret" not in sent
    assert "private notes" not in sent
    assert "nothing.py" in sent  # a mention that names no file stays a word
    # Read as read_file reads it: the model may edit it at once.
    assert (repo / "textutil.py") in agent.ctx.snapshots


async def test_no_mention_leaves_the_message_as_it_was(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(text="Hi."))
    agent = make_agent(llm, repo)
    events = await drain(agent, "hello @someone")
    (said,) = [event for event in events if isinstance(event, UserMessage)]
    assert said.files == []
    assert not [event for event in events if isinstance(event, Error)]
    assert "<file" not in llm.requests[0]["messages"][-1]["content"]
