"""Which saves make a request: new AI comments in the user's saves, never the agent's own
writes, never comments that were there before watching began."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from agent.frontends.watch import Watch, WatchOutput, request_text
from agent.index.index import CodeIndex
from agent.index.store import Store
from tools.base import ToolContext


def watch_on(root: Path, tmp_path: Path) -> tuple[Watch, ToolContext]:
    index = CodeIndex(root, Store(tmp_path / "index.sqlite"))
    index.refresh()
    ctx = ToolContext(workspace=root)
    conversation = SimpleNamespace(ctx=ctx)
    output = WatchOutput(io.StringIO(), io.StringIO())
    return Watch(conversation, index, output), ctx  # type: ignore[arg-type]


def test_only_new_comments_in_the_users_saves_count(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("# old request AI!\nx = 1\n")
    (root / "b.py").write_text("y = 2\n")
    watch, _ = watch_on(root, tmp_path)
    assert watch.baseline() == 1
    (root / "a.py").write_text("# old request AI!\nx = 2\n")  # an unrelated edit
    assert watch.scan(["a.py"]) == []
    (root / "a.py").write_text("# old request, reworded AI!\nx = 2\n")
    [(comment, text)] = watch.scan(["a.py"])
    assert (comment.where(), comment.text) == ("a.py:1", "old request, reworded AI!")
    assert text.endswith("x = 2\n")
    assert watch.scan(["a.py"]) == []  # seen once, sent once
    (root / "b.py").write_text("y = 2  # why two? AI?\n# fix it AI!\n")
    assert [c.where() for c, _ in watch.scan(["b.py"])] == ["b.py:1", "b.py:2"]


def test_the_agents_own_writes_never_make_a_request(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    watch, ctx = watch_on(root, tmp_path)
    watch.baseline()
    written = b"x = 1  # leave this to the agent AI!\n"
    (root / "a.py").write_bytes(written)
    ctx.files_changed.add("a.py")  # as edit_file and write_file record their work
    ctx.remember(root / "a.py", written)
    assert watch.scan(["a.py"]) == []
    assert watch.saved == set()
    # The user changes it after the agent: that save is theirs.
    (root / "a.py").write_text("x = 1  # now mine AI!\n")
    assert [c.text for c, _ in watch.scan(["a.py"])] == ["now mine AI!"]
    assert watch.saved == {"a.py"}


def test_a_deleted_file_is_forgotten(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("# do it AI!\n")
    watch, _ = watch_on(root, tmp_path)
    watch.baseline()
    (root / "a.py").unlink()
    assert watch.scan(["a.py"]) == []
    (root / "a.py").write_text("# do it AI!\n")  # back again: a new request
    assert len(watch.scan(["a.py"])) == 1


def test_the_request_names_the_files_the_user_saved_meanwhile(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    watch, _ = watch_on(root, tmp_path)
    (root / "a.py").write_text("x = 1\n# add y AI!\n")
    found = watch.scan(["a.py"])
    text = request_text(found, ["lib/other.py"])
    assert text.startswith("AI comments at a.py:2\n")
    assert " 1 | x = 1\n>2 | # add y AI!" in text
    assert "the user saved lib/other.py" in text
    assert "the user saved" not in request_text(found, [])
