"""Checkpoints and undo through a real conversation: real git in temp dirs, the scripted
model over HTTP, and every git command Shipmate runs recorded and checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.config import data_dir
from agent.events import Committed, Result
from agent.frontends.changes import session_blobs
from agent.vcs import git as vcs_git
from agent.vcs.undo import UndoError, session_diff, undo

from helpers import drain, edit, git, identity, make_agent
from scripted_llm import Reply, ScriptedLLM, tool

pytestmark = pytest.mark.usefixtures("git_calls")


USER_BYTES = b"import re\r\n# my own note \xff\xfe not utf-8\r\n"


async def test_the_users_dirty_change_survives_edit_and_undo_byte_for_byte(
    llm: ScriptedLLM, repo: Path
) -> None:
    identity(repo)
    (repo / "notes.txt").write_bytes(b"mine, uncommitted\n")
    (repo / "textutil.py").write_bytes((repo / "textutil.py").read_bytes() + b"# user line\n")
    before = (repo / "textutil.py").read_bytes()
    git(repo, "add", "notes.txt")  # the user's staged work
    head = git(repo, "rev-parse", "HEAD")
    llm.add(edit("textutil.py", "# user line\n", "# agent line\n"), Reply(text="done"))
    agent = make_agent(llm, repo, approval="auto-edit")
    events = await drain(agent, "change the last line")
    assert events[-1].status == "success"
    assert (repo / "textutil.py").read_bytes().endswith(b"# agent line\n")
    # Nothing of the user's moved: HEAD, the index, no stash.
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "diff", "--cached", "--name-only") == "notes.txt\n"
    assert git(repo, "stash", "list") == ""
    assert git(repo, "for-each-ref", "refs/shipmate/").count("refs/shipmate/") == 1
    done = await undo(repo, agent.session_id, agent.store, session_blobs(repo, agent.session_id))
    assert done.restored == ["textutil.py"]
    assert (repo / "textutil.py").read_bytes() == before
    assert (repo / "notes.txt").read_bytes() == b"mine, uncommitted\n"
    assert git(repo, "diff", "--cached", "--name-only") == "notes.txt\n"
    with pytest.raises(UndoError, match="nothing to undo"):
        await undo(repo, agent.session_id, agent.store, session_blobs(repo, agent.session_id))


async def test_undo_refuses_a_file_changed_since_and_force_restores_it(
    llm: ScriptedLLM, repo: Path
) -> None:
    original = (repo / "textutil.py").read_bytes()
    llm.add(edit("textutil.py", "import re\n", "import re  # agent\n"), Reply(text="ok"))
    agent = make_agent(llm, repo, approval="auto-edit")
    await drain(agent, "tweak")
    (repo / "textutil.py").write_bytes(b"the user rewrote it\n")
    blobs = session_blobs(repo, agent.session_id)
    with pytest.raises(UndoError, match=r"textutil\.py changed after Shipmate's edit"):
        await undo(repo, agent.session_id, agent.store, blobs)
    assert (repo / "textutil.py").read_bytes() == b"the user rewrote it\n"
    await undo(repo, agent.session_id, agent.store, blobs, force=True)
    assert (repo / "textutil.py").read_bytes() == original


async def test_undo_removes_what_the_agent_created_but_never_what_the_user_changed(
    llm: ScriptedLLM, repo: Path
) -> None:
    llm.add(
        Reply(
            calls=[
                tool("write_file", path="new.py", content="x = 1\n"),
                tool("write_file", path="pkg/other.py", content="y = 2\n"),
            ]
        ),
        Reply(text="ok"),
    )
    agent = make_agent(llm, repo, approval="auto-edit")
    await drain(agent, "add files")
    (repo / "pkg/other.py").write_text("y = 2  # the user's now\n")
    (repo / "users.py").write_text("made by the user\n")
    blobs = session_blobs(repo, agent.session_id)
    done = await undo(repo, agent.session_id, agent.store, blobs, force=True)
    assert done.removed == ["new.py"] and done.kept == ["pkg/other.py"]
    assert not (repo / "new.py").exists()
    assert (repo / "pkg/other.py").read_text() == "y = 2  # the user's now\n"
    assert (repo / "users.py").read_text() == "made by the user\n"


async def test_repeated_undo_goes_further_back_and_diff_shows_the_session(
    llm: ScriptedLLM, repo: Path
) -> None:
    original = (repo / "textutil.py").read_text()
    llm.add(edit("textutil.py", "import re\n", "import re\nimport os\n"), Reply(text="one"))
    agent = make_agent(llm, repo, approval="auto-edit")
    await drain(agent, "first")
    llm.add(edit("textutil.py", "import os\n", "import os\nimport sys\n"), Reply(text="two"))
    await drain(agent, "second")
    blobs = session_blobs(repo, agent.session_id)
    diff = session_diff(repo, agent.store, agent.session_id, blobs)
    assert "+import os\n" in diff and "+import sys\n" in diff and "--- a/textutil.py" in diff
    first = await undo(repo, agent.session_id, agent.store, blobs)
    assert first.turn == 2 and first.remaining == 1
    assert "import os\n" in (repo / "textutil.py").read_text()
    assert "import sys" not in (repo / "textutil.py").read_text()
    await undo(repo, agent.session_id, agent.store, blobs)
    assert (repo / "textutil.py").read_text() == original
    assert session_diff(repo, agent.store, agent.session_id, blobs) == ""


async def test_undo_outside_git_keeps_copies_in_the_data_dir(llm: ScriptedLLM, ws: Path) -> None:
    (ws / "app.py").write_bytes(b"print('hi')\n")
    (ws / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (ws / "run.sh").chmod(0o755)
    llm.add(
        Reply(
            calls=[
                tool("edit_file", path="app.py", old_text="hi", new_text="hello"),
                tool("read_file", path="run.sh"),
                tool("write_file", path="run.sh", content="#!/bin/sh\necho hello\n"),
            ]
        ),
        Reply(text="ok"),
    )
    agent = make_agent(llm, ws, approval="auto-edit")
    await drain(agent, "say hello")
    assert (ws / "app.py").read_text() == "print('hello')\n"
    assert (ws / "run.sh").read_text() == "#!/bin/sh\necho hello\n"
    copies = data_dir() / "checkpoints" / agent.session_id
    assert len(list(copies.iterdir())) == 4  # two files, before and after each
    assert copies.stat().st_mode & 0o777 == 0o700
    await undo(ws, agent.session_id, agent.store, session_blobs(ws, agent.session_id))
    assert (ws / "app.py").read_bytes() == b"print('hi')\n"
    assert (ws / "run.sh").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (ws / "run.sh").stat().st_mode & 0o100


async def test_what_a_command_changed_is_undone_too(llm: ScriptedLLM, repo: Path) -> None:
    (repo / "draft.txt").write_text("the user's draft\n")  # untracked, the user's
    original = (repo / "textutil.py").read_text()
    command = "echo '# appended' >> textutil.py && echo made > built.txt && rm -f draft.txt"
    llm.add(Reply(calls=[tool("run_command", command=command)]), Reply(text="ok"))
    agent = make_agent(llm, repo, approval="full-auto")
    await drain(agent, "run it")
    assert not (repo / "draft.txt").exists()
    done = await undo(repo, agent.session_id, agent.store, session_blobs(repo, agent.session_id))
    assert sorted(done.restored) == ["draft.txt", "textutil.py"] and done.removed == ["built.txt"]
    assert (repo / "textutil.py").read_text() == original
    assert (repo / "draft.txt").read_text() == "the user's draft\n"
    assert not (repo / "built.txt").exists()


async def test_auto_commit_commits_the_users_work_first_then_the_agents_and_undo_resets(
    llm: ScriptedLLM, repo: Path
) -> None:
    identity(repo)
    (repo / "textutil.py").write_text((repo / "textutil.py").read_text() + "# user wip\n")
    users = (repo / "textutil.py").read_bytes()
    (repo / "other.py").write_text("unrelated user work\n")
    start = git(repo, "rev-parse", "HEAD").strip()
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport os\n"),
        Reply(text="done"),
        Reply(text="Import os for path handling\n\nThe helper will need it next."),
    )
    agent = make_agent(llm, repo, approval="auto-edit", auto_commit=True)
    events = await drain(agent, "import os")
    commits = [event for event in events if isinstance(event, Committed)]
    assert [c.wip for c in commits] == [True, False]
    log = git(repo, "log", "--format=%s|%an|%ae", f"{start}..HEAD").splitlines()
    assert log == [
        "Import os for path handling|Ada User|ada@example.com",
        "WIP: your changes before Shipmate's edit|Ada User|ada@example.com",
    ]
    body = git(repo, "log", "-1", "--format=%B")
    assert "Co-authored-by: Shipmate (openai/scripted) <" in body
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["textutil.py"]
    assert git(repo, "status", "--porcelain") == "?? other.py\n"
    assert isinstance(events[-1], Result) and events[-1].status == "success"
    done = await undo(repo, agent.session_id, agent.store, session_blobs(repo, agent.session_id))
    assert "moved HEAD back" in done.commits
    assert git(repo, "log", "-1", "--format=%s") == "WIP: your changes before Shipmate's edit\n"
    assert (repo / "textutil.py").read_bytes() == users
    assert git(repo, "status", "--porcelain") == "?? other.py\n"


async def test_undo_of_a_pushed_agent_commit_is_a_revert_commit(
    llm: ScriptedLLM, repo: Path
) -> None:
    identity(repo)
    original = (repo / "textutil.py").read_text()
    llm.add(
        edit("textutil.py", "import re\n", "import re\nimport os\n"),
        Reply(text="done"),
        Reply(text="Import os"),
    )
    agent = make_agent(llm, repo, approval="auto-edit", auto_commit=True)
    await drain(agent, "import os")
    pushed = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-ref", "refs/remotes/origin/main", pushed)
    done = await undo(repo, agent.session_id, agent.store, session_blobs(repo, agent.session_id))
    assert "reverted" in done.commits
    assert git(repo, "log", "-1", "--format=%s") == 'Revert "Import os"\n'
    assert git(repo, "rev-parse", "HEAD~1").strip() == pushed
    assert (repo / "textutil.py").read_text() == original
    assert git(repo, "status", "--porcelain") == ""


async def test_auto_commit_falls_back_to_a_message_from_the_turn(
    llm: ScriptedLLM, repo: Path
) -> None:
    identity(repo)
    llm.add(edit("textutil.py", "import re\n", "import re\nimport os\n"), Reply(text="done"))
    # No reply scripted for the message call: the server fails it.
    agent = make_agent(llm, repo, approval="auto-edit", auto_commit=True)
    events = await drain(agent, "please import os in textutil")
    assert events[-1].status == "success"
    assert git(repo, "log", "-1", "--format=%s") == "please import os in textutil\n"
    assert "- textutil.py" in git(repo, "log", "-1", "--format=%b")


def test_no_commit_without_an_identity_says_how_to_set_one(repo: Path) -> None:
    import asyncio

    from agent.vcs.commits import CommitError, commit_files

    (repo / "textutil.py").write_text("changed\n")
    repository = vcs_git.repository(repo)
    assert repository is not None
    env_free = subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], cwd=repo, capture_output=True)
    if env_free.returncode == 0:
        pytest.skip("git finds an identity in this environment")
    with pytest.raises(CommitError, match=r"git config --global user\.name"):
        asyncio.run(commit_files(repository, ["textutil.py"], "Change"))


async def test_the_model_is_told_what_was_undone_with_the_next_message(
    llm: ScriptedLLM, repo: Path
) -> None:
    original = (repo / "textutil.py").read_text()
    llm.add(edit("textutil.py", "import re\n", "import re\nimport os\n"), Reply(text="added"))
    agent = make_agent(llm, repo, approval="auto-edit")
    await drain(agent, "import os")
    assert "+import os" in agent.diff()
    done = await agent.undo()
    assert done.restored == ["textutil.py"] and (repo / "textutil.py").read_text() == original
    assert agent.diff() == ""
    llm.add(Reply(text="ok"))
    await drain(agent, "now what?")
    sent = llm.requests[-1]["messages"][-1]["content"]
    assert "the user undid the changes of your turn 'import os': textutil.py" in sent
    assert sent.rstrip().endswith("now what?")
    llm.add(Reply(text="ok"))
    await drain(agent, "and again?")
    assert "undid" not in llm.requests[-1]["messages"][-1]["content"]  # told once


async def test_an_undo_stopped_half_way_finishes_when_run_again(
    llm: ScriptedLLM, repo: Path
) -> None:
    original = (repo / "textutil.py").read_text()
    tests_before = (repo / "test_textutil.py").read_text()
    llm.add(
        Reply(
            calls=[
                tool(
                    "edit_file", path="textutil.py", old_text="import re\n", new_text="import os\n"
                ),
                tool("write_file", path="extra.py", content="z = 0\n"),
            ]
        ),
        Reply(text="ok"),
    )
    agent = make_agent(llm, repo, approval="auto-edit")
    await drain(agent, "two files")
    (repo / "textutil.py").write_text(original)  # as if undo had restored this one, then died
    done = await undo(repo, agent.session_id, agent.store, session_blobs(repo, agent.session_id))
    assert done.removed == ["extra.py"] and done.restored == []
    assert (repo / "textutil.py").read_text() == original
    assert (repo / "test_textutil.py").read_text() == tests_before
