"""read_file, list_files, write_file and update_plan against real files in a temp workspace."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.events import PlanItem
from tools.base import ToolContext, ToolError
from tools.files import MAX_LINE_CHARS, MAX_OUTPUT_CHARS, ListFiles, ReadFile, WriteFile
from tools.plan import UpdatePlan

from helpers import git


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "shipmate-tmp" in p.name)


# --- read_file --------------------------------------------------------------------------------


async def test_read_numbers_lines(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("alpha\nbeta\ngamma\n")
    result = await ReadFile(path="a.py").run(ctx)
    assert result.output == "     1\talpha\n     2\tbeta\n     3\tgamma"
    assert not result.is_error
    assert result.summary == "3 lines"


async def test_read_file_without_trailing_newline(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("one\ntwo")
    result = await ReadFile(path="a.txt").run(ctx)
    assert result.output == "     1\tone\n     2\ttwo"


async def test_read_keeps_blank_lines_inside(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("one\n\nthree\n")
    result = await ReadFile(path="a.txt").run(ctx)
    assert result.output.splitlines() == ["     1\tone", "     2\t", "     3\tthree"]


async def test_read_offset_and_limit_pages_with_trailer(ctx: ToolContext, ws: Path) -> None:
    (ws / "ten.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    result = await ReadFile(path="ten.txt", offset=3, limit=4).run(ctx)
    lines = result.output.splitlines()
    assert lines[:4] == ["     3\tline 3", "     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert lines[4] == "(lines 3-6 of 10; call again with offset=7 to read on)"
    assert len(lines) == 5


async def test_read_last_page_has_no_trailer(ctx: ToolContext, ws: Path) -> None:
    (ws / "ten.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    result = await ReadFile(path="ten.txt", offset=7, limit=4).run(ctx)
    assert result.output.splitlines() == [
        "     7\tline 7",
        "     8\tline 8",
        "     9\tline 9",
        "    10\tline 10",
    ]
    assert "offset=" not in result.output


async def test_read_offset_past_end_is_an_error(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("one\ntwo\n")
    with pytest.raises(ToolError, match="has 2 lines; offset 5 is past the end"):
        await ReadFile(path="a.txt", offset=5).run(ctx)


async def test_read_cuts_long_lines(ctx: ToolContext, ws: Path) -> None:
    (ws / "long.txt").write_text("short\n" + "x" * 5000 + "\nafter\n")
    result = await ReadFile(path="long.txt").run(ctx)
    lines = result.output.splitlines()
    assert lines[0] == "     1\tshort"
    assert lines[1] == "     2\t" + "x" * MAX_LINE_CHARS + " … [line cut]"
    assert lines[2] == "     3\tafter"


async def test_read_empty_file(ctx: ToolContext, ws: Path) -> None:
    (ws / "empty.txt").write_bytes(b"")
    result = await ReadFile(path="empty.txt").run(ctx)
    assert result.output == "empty.txt is empty."
    assert not result.is_error


async def test_read_missing_file(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"nope\.txt does not exist"):
        await ReadFile(path="nope.txt").run(ctx)


async def test_read_directory(ctx: ToolContext, ws: Path) -> None:
    (ws / "src").mkdir()
    with pytest.raises(ToolError, match="src is a directory; use list_files"):
        await ReadFile(path="src").run(ctx)


async def test_read_refuses_binary(ctx: ToolContext, ws: Path) -> None:
    (ws / "blob.bin").write_bytes(b"\x7fELF\x00\x01\x02text after nul\n")
    with pytest.raises(ToolError, match=r"blob\.bin is a binary file"):
        await ReadFile(path="blob.bin").run(ctx)


async def test_read_cp1252_file(ctx: ToolContext, ws: Path) -> None:
    (ws / "fr.txt").write_bytes("café crème – “quoted”\n".encode("cp1252"))
    result = await ReadFile(path="fr.txt").run(ctx)
    assert result.output == "     1\tcafé crème – “quoted”"


async def test_read_latin1_file_with_bytes_cp1252_lacks(ctx: ToolContext, ws: Path) -> None:
    # 0x81 is undefined in Windows-1252, so this can only be read as Latin-1.
    (ws / "l1.txt").write_bytes(b"na\xefve \x81 end\n")
    result = await ReadFile(path="l1.txt").run(ctx)
    assert result.output == "     1\tnaïve \x81 end"


async def test_read_utf16_with_bom(ctx: ToolContext, ws: Path) -> None:
    (ws / "w.txt").write_bytes("hello\nwörld\n".encode("utf-16"))
    result = await ReadFile(path="w.txt").run(ctx)
    assert result.output == "     1\thello\n     2\twörld"


async def test_read_crlf_shows_no_carriage_returns(ctx: ToolContext, ws: Path) -> None:
    (ws / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    result = await ReadFile(path="dos.txt").run(ctx)
    assert result.output == "     1\tone\n     2\ttwo"


async def test_read_refuses_file_over_10_mb(ctx: ToolContext, ws: Path) -> None:
    with open(ws / "huge.log", "wb") as handle:
        handle.truncate(11 * 1024 * 1024)  # sparse: fast, and the size is what counts
    with pytest.raises(ToolError) as caught:
        await ReadFile(path="huge.log").run(ctx)
    message = str(caught.value)
    assert "huge.log is 11.0 MB" in message
    assert "too large" in message
    assert "grep" in message


async def test_read_file_of_exactly_10_mb_is_allowed(ctx: ToolContext, ws: Path) -> None:
    line = b"y" * 1023 + b"\n"
    (ws / "big.txt").write_bytes(line * 10 * 1024)
    assert (ws / "big.txt").stat().st_size == 10 * 1024 * 1024
    result = await ReadFile(path="big.txt", limit=2).run(ctx)
    assert result.output.startswith("     1\t" + "y" * 1023)
    assert "of 10240; call again with offset=3" in result.output


async def test_read_huge_line_count_is_paged(ctx: ToolContext, ws: Path) -> None:
    total = 100_000
    (ws / "many.txt").write_text("".join(f"row {n:06d} " + "z" * 60 + "\n" for n in range(total)))
    first = await ReadFile(path="many.txt").run(ctx)
    *body, trailer = first.output.split("\n")
    # Capped by characters, before the 2000-line default limit.
    assert len(first.output) <= MAX_OUTPUT_CHARS + len(trailer) + 1
    assert 0 < len(body) < 2000
    assert body[0].startswith("     1\trow 000000 ")
    last = len(body)
    assert body[-1].startswith(f"{last:>6}\trow {last - 1:06d} ")
    assert trailer == f"(lines 1-{last} of {total}; call again with offset={last + 1} to read on)"

    second = await ReadFile(path="many.txt", offset=last + 1, limit=5).run(ctx)
    lines = second.output.split("\n")
    assert lines[0].startswith(f"{last + 1:>6}\trow {last:06d} ")
    assert lines[-1] == (
        f"(lines {last + 1}-{last + 5} of {total}; call again with offset={last + 6} to read on)"
    )

    tail = await ReadFile(path="many.txt", offset=total - 1).run(ctx)
    assert tail.output.split("\n")[-1].startswith(f"{total:>6}\trow {total - 1:06d} ")
    assert "offset=" not in tail.output


async def test_read_records_snapshot(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("x\n")
    assert not ctx.snapshots
    await ReadFile(path="a.txt").run(ctx)
    assert (ws / "a.txt").resolve() in ctx.snapshots


# --- list_files -------------------------------------------------------------------------------


def make_tree(ws: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = ws / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


async def test_list_in_git_repo_respects_gitignore(ctx: ToolContext, ws: Path) -> None:
    make_tree(
        ws,
        {
            ".gitignore": "*.log\nbuild/\n",
            "tracked.py": "x = 1\n",
            "debug.log": "noise\n",
            "build/out.js": "compiled\n",
        },
    )
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "initial")
    make_tree(ws, {"untracked.py": "y = 2\n", "more.log": "noise\n"})
    listed = (await ListFiles().run(ctx)).output.splitlines()
    assert listed == [".gitignore", "tracked.py", "untracked.py"]


async def test_list_in_git_repo_excludes_git_internals(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {"a.py": ""})
    git(ws, "init", "-q")
    listed = (await ListFiles().run(ctx)).output.splitlines()
    assert listed == ["a.py"]


async def test_list_outside_git_respects_gitignore_and_skips_vendored_dirs(
    ctx: ToolContext, ws: Path
) -> None:
    make_tree(
        ws,
        {
            ".gitignore": "*.log\n",
            "main.py": "",
            "app.log": "",
            "secret.txt": "root-level: not ignored by sub/.gitignore",
            "sub/.gitignore": "secret.txt\nbuild/\n",
            "sub/code.py": "",
            "sub/secret.txt": "",
            "sub/trace.log": "",
            "sub/build/gen.py": "",
            "sub/deeper/secret.txt": "",
            "node_modules/pkg/index.js": "",
            ".git/config": "[core]\n",
            "__pycache__/main.cpython-311.pyc": "",
            ".venv/bin/python": "",
        },
    )
    listed = (await ListFiles().run(ctx)).output.splitlines()
    assert listed == [".gitignore", "main.py", "secret.txt", "sub/.gitignore", "sub/code.py"]


async def test_list_outside_git_nested_gitignore_negation(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {".gitignore": "*.txt\n!keep.txt\n", "keep.txt": "", "drop.txt": "", "a.md": ""})
    listed = (await ListFiles().run(ctx)).output.splitlines()
    assert listed == [".gitignore", "a.md", "keep.txt"]


FILES = {
    "setup.py": "",
    "README.md": "",
    "src/app.py": "",
    "src/pkg/util.py": "",
    "src/pkg/deep/more.py": "",
    "src/pkg/notes.txt": "",
    "web/index.ts": "",
    "web/view.tsx": "",
    "web/style.css": "",
    "web/old.js": "",
    "lib/other.py": "",
}


@pytest.fixture(params=["walk", "git"])
def tree(request: pytest.FixtureRequest, ws: Path) -> Path:
    make_tree(ws, FILES)
    if request.param == "git":
        git(ws, "init", "-q")
    return ws


async def test_list_glob_without_slash_matches_any_depth(ctx: ToolContext, tree: Path) -> None:
    listed = (await ListFiles(pattern="*.py").run(ctx)).output.splitlines()
    assert listed == [
        "lib/other.py",
        "setup.py",
        "src/app.py",
        "src/pkg/deep/more.py",
        "src/pkg/util.py",
    ]


async def test_list_glob_double_star(ctx: ToolContext, tree: Path) -> None:
    listed = (await ListFiles(pattern="src/**/*.py").run(ctx)).output.splitlines()
    assert listed == ["src/app.py", "src/pkg/deep/more.py", "src/pkg/util.py"]


async def test_list_glob_single_star_stays_in_folder(ctx: ToolContext, tree: Path) -> None:
    listed = (await ListFiles(pattern="src/*.py").run(ctx)).output.splitlines()
    assert listed == ["src/app.py"]


async def test_list_glob_braces(ctx: ToolContext, tree: Path) -> None:
    listed = (await ListFiles(pattern="*.{ts,tsx}").run(ctx)).output.splitlines()
    assert listed == ["web/index.ts", "web/view.tsx"]


async def test_list_path_filter_to_subfolder(ctx: ToolContext, tree: Path) -> None:
    listed = (await ListFiles(path="src/pkg").run(ctx)).output.splitlines()
    assert listed == ["src/pkg/deep/more.py", "src/pkg/notes.txt", "src/pkg/util.py"]


async def test_list_path_filter_does_not_match_sibling_prefix(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {"src/a.py": "", "src2/b.py": "", "srcfile.py": ""})
    listed = (await ListFiles(path="src").run(ctx)).output.splitlines()
    assert listed == ["src/a.py"]


async def test_list_path_and_pattern_together(ctx: ToolContext, tree: Path) -> None:
    listed = (await ListFiles(path="src", pattern="pkg/*.py").run(ctx)).output.splitlines()
    assert listed == ["src/pkg/util.py"]


async def test_list_limit_says_more_not_shown(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {f"f{n:02d}.txt": "" for n in range(12)})
    result = await ListFiles(limit=5).run(ctx)
    lines = result.output.splitlines()
    assert lines[:5] == ["f00.txt", "f01.txt", "f02.txt", "f03.txt", "f04.txt"]
    assert lines[5] == "(7 more not shown; narrow with a pattern)"
    assert len(lines) == 6
    assert result.summary == "12 files"


async def test_list_no_files_found(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {"a.py": ""})
    result = await ListFiles(pattern="*.rs").run(ctx)
    assert result.output == "No files found."


async def test_list_refuses_a_file_as_folder(ctx: ToolContext, ws: Path) -> None:
    make_tree(ws, {"a.py": ""})
    with pytest.raises(ToolError, match=r"a\.py is not a folder"):
        await ListFiles(path="a.py").run(ctx)


async def test_list_missing_folder(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="not a folder"):
        await ListFiles(path="nowhere").run(ctx)


# --- write_file -------------------------------------------------------------------------------


async def test_write_creates_file_and_parents(ctx: ToolContext, ws: Path) -> None:
    result = await WriteFile(path="a/b/c.txt", content="hello\nworld\n").run(ctx)
    assert (ws / "a" / "b" / "c.txt").read_bytes() == b"hello\nworld\n"
    assert result.output == "Created a/b/c.txt (2 lines)."
    assert result.files_changed == ["a/b/c.txt"]
    assert "a/b/c.txt" in ctx.files_changed
    assert not result.is_error


async def test_write_new_file_is_utf8(ctx: ToolContext, ws: Path) -> None:
    await WriteFile(path="u.txt", content="naïve → ok\n").run(ctx)
    assert (ws / "u.txt").read_bytes() == "naïve → ok\n".encode()


async def test_write_new_file_gets_umask_mode(ctx: ToolContext, ws: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    await WriteFile(path="m.txt", content="x").run(ctx)
    assert stat.S_IMODE((ws / "m.txt").stat().st_mode) == 0o666 & ~umask


async def test_write_refuses_existing_file_never_read(ctx: ToolContext, ws: Path) -> None:
    (ws / "keep.txt").write_text("precious\n")
    with pytest.raises(ToolError, match="already exists and you have not read it"):
        await WriteFile(path="keep.txt", content="clobbered\n").run(ctx)
    assert (ws / "keep.txt").read_text() == "precious\n"
    assert not ctx.files_changed


async def test_write_after_read_overwrites(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("old\n")
    await ReadFile(path="a.txt").run(ctx)
    result = await WriteFile(path="a.txt", content="new\n").run(ctx)
    assert (ws / "a.txt").read_text() == "new\n"
    assert result.output == "Updated a.txt (1 line)."


async def test_write_keeps_crlf_and_cp1252(ctx: ToolContext, ws: Path) -> None:
    (ws / "win.txt").write_bytes("caf\xe9\r\nline two\r\n".encode("latin-1"))
    await ReadFile(path="win.txt").run(ctx)
    await WriteFile(path="win.txt", content="café crème\nline two\nthree\n").run(ctx)
    assert (ws / "win.txt").read_bytes() == b"caf\xe9 cr\xe8me\r\nline two\r\nthree\r\n"


async def test_write_content_with_crlf_into_crlf_file_not_doubled(
    ctx: ToolContext, ws: Path
) -> None:
    (ws / "dos.txt").write_bytes(b"a\r\nb\r\n")
    await ReadFile(path="dos.txt").run(ctx)
    await WriteFile(path="dos.txt", content="x\r\ny\r\n").run(ctx)
    assert (ws / "dos.txt").read_bytes() == b"x\r\ny\r\n"


async def test_write_keeps_utf8_bom(ctx: ToolContext, ws: Path) -> None:
    (ws / "bom.txt").write_bytes(b"\xef\xbb\xbfold\n")
    await ReadFile(path="bom.txt").run(ctx)
    await WriteFile(path="bom.txt", content="new\n").run(ctx)
    assert (ws / "bom.txt").read_bytes() == b"\xef\xbb\xbfnew\n"


async def test_write_unencodable_character_refused(ctx: ToolContext, ws: Path) -> None:
    original = "caf\xe9\n".encode("cp1252")
    (ws / "w.txt").write_bytes(original)
    await ReadFile(path="w.txt").run(ctx)
    with pytest.raises(ToolError, match="cp1252"):
        await WriteFile(path="w.txt", content="日本\n").run(ctx)
    assert (ws / "w.txt").read_bytes() == original


async def test_write_refuses_when_changed_on_disk_since_read(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("v1\n")
    await ReadFile(path="a.txt").run(ctx)
    (ws / "a.txt").write_text("v2 from someone else\n")
    with pytest.raises(ToolError, match="changed on disk since you last read it"):
        await WriteFile(path="a.txt", content="mine\n").run(ctx)
    assert (ws / "a.txt").read_text() == "v2 from someone else\n"


async def test_write_twice_after_create_is_allowed(ctx: ToolContext, ws: Path) -> None:
    await WriteFile(path="n.txt", content="one\n").run(ctx)
    await WriteFile(path="n.txt", content="two\n").run(ctx)
    assert (ws / "n.txt").read_text() == "two\n"


async def test_write_refuses_git_internals(ctx: ToolContext, ws: Path) -> None:
    git(ws, "init", "-q")
    config = (ws / ".git" / "config").read_text()
    await ReadFile(path=".git/config").run(ctx)  # reading is fine
    with pytest.raises(ToolError, match=r"inside \.git"):
        await WriteFile(path=".git/config", content="[core]\n").run(ctx)
    assert (ws / ".git" / "config").read_text() == config


async def test_write_keeps_file_mode(ctx: ToolContext, ws: Path) -> None:
    script = ws / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    await ReadFile(path="run.sh").run(ctx)
    await WriteFile(path="run.sh", content="#!/bin/sh\necho new\n").run(ctx)
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text() == "#!/bin/sh\necho new\n"


async def test_write_result_has_diff_and_files_changed(ctx: ToolContext, ws: Path) -> None:
    (ws / "sub").mkdir()
    (ws / "sub" / "d.txt").write_text("keep\nold line\n")
    await ReadFile(path="sub/d.txt").run(ctx)
    result = await WriteFile(path="sub/d.txt", content="keep\nnew line\n").run(ctx)
    assert result.files_changed == ["sub/d.txt"]
    assert ctx.files_changed == {"sub/d.txt"}
    assert result.diff is not None
    assert "--- a/sub/d.txt" in result.diff
    assert "+++ b/sub/d.txt" in result.diff
    assert "-old line\n" in result.diff
    assert "+new line\n" in result.diff
    assert " keep\n" in result.diff


async def test_write_new_file_diff_is_all_additions(ctx: ToolContext) -> None:
    result = await WriteFile(path="n.txt", content="a\nb\n").run(ctx)
    assert result.diff is not None
    assert "+a\n+b\n" in result.diff
    assert "\n-" not in result.diff.split("@@", 1)[1]


async def test_write_leaves_no_temp_files(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("old\n")
    await ReadFile(path="a.txt").run(ctx)
    await WriteFile(path="a.txt", content="new\n").run(ctx)
    await WriteFile(path="b.txt", content="b\n").run(ctx)
    assert sorted(p.name for p in ws.iterdir()) == ["a.txt", "b.txt"]
    assert leftovers(ws) == []


async def test_write_refuses_folder(ctx: ToolContext, ws: Path) -> None:
    (ws / "dir").mkdir()
    with pytest.raises(ToolError, match="dir is a folder"):
        await WriteFile(path="dir", content="x").run(ctx)


async def test_write_then_edit_needs_no_reread(ctx: ToolContext, ws: Path) -> None:
    from tools.edit import EditFile

    await WriteFile(path="a.py", content="x = 1\n").run(ctx)
    await EditFile(path="a.py", old_text="x = 1", new_text="x = 2").run(ctx)
    assert (ws / "a.py").read_text() == "x = 2\n"


# --- update_plan ------------------------------------------------------------------------------


async def test_plan_renders_items(ctx: ToolContext) -> None:
    items = [
        PlanItem(step="Read the code", status="completed"),
        PlanItem(step="Fix the bug", status="in_progress"),
        PlanItem(step="Run the tests"),
    ]
    tool = UpdatePlan(items=items)
    result = await tool.run(ctx)
    assert result.output == ("Plan updated:\n[x] Read the code\n[~] Fix the bug\n[ ] Run the tests")
    assert result.summary == "plan: 1/3 done"
    assert not result.is_error


async def test_plan_refuses_two_in_progress(ctx: ToolContext) -> None:
    items = [PlanItem(step="A", status="in_progress"), PlanItem(step="B", status="in_progress")]
    with pytest.raises(ToolError, match="Only one step can be in_progress"):
        await UpdatePlan(items=items).run(ctx)


async def test_plan_result_carries_plan(ctx: ToolContext) -> None:
    items = [PlanItem(step="Only step", status="pending")]
    result = await UpdatePlan(items=items).run(ctx)
    assert result.plan == items
    assert result.plan is not None and result.plan[0].step == "Only step"


async def test_plan_from_model_json(ctx: ToolContext) -> None:
    tool = UpdatePlan.model_validate(
        {"items": [{"step": "Do it", "status": "completed"}, {"step": "Ship it"}]}
    )
    result = await tool.run(ctx)
    assert result.output.splitlines()[1:] == ["[x] Do it", "[ ] Ship it"]
    assert result.summary == "plan: 1/2 done"


async def test_writing_a_broken_file_is_reported(ctx: ToolContext, ws: Path) -> None:
    result = await WriteFile(path="broken.ts", content="function f( {\n  return 1\n}\n").run(ctx)
    assert "Syntax check: broken.ts now has a syntax error at line 1" in result.output
    clean = await WriteFile(path="clean.ts", content="function f() {\n  return 1\n}\n").run(ctx)
    assert "Syntax check" not in clean.output


async def test_counts_read_in_words(ctx: ToolContext) -> None:
    result = await WriteFile(path="one.txt", content="hello\n").run(ctx)
    assert result.output == "Created one.txt (1 line)."
    with pytest.raises(ToolError, match=r"one\.txt has 1 line; offset 3"):
        await ReadFile(path="one.txt", offset=3).run(ctx)
