"""edit_file against real files: matching levels, refusals, and faithful write-back."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.edit import EditFile
from tools.files import ReadFile


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".shipmate-tmp"))


async def edit(ctx: ToolContext, path: str, old: str, new: str, **kw: bool):
    return await EditFile(path=path, old_text=old, new_text=new, **kw).run(ctx)


# --- matching ---------------------------------------------------------------------------------


async def test_exact_single_replace(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    result = await edit(ctx, "a.py", "    return 1\n", "    return 42\n")
    assert (ws / "a.py").read_text() == "def f():\n    return 42\n\n\ndef g():\n    return 2\n"
    assert result.output.startswith("Edited a.py. The changed region now reads:\n")
    assert "     2\t    return 42" in result.output
    assert "matched" not in result.output
    assert result.files_changed == ["a.py"]
    assert ctx.files_changed == {"a.py"}
    assert result.diff is not None
    assert "-    return 1\n" in result.diff
    assert "+    return 42\n" in result.diff


async def test_exact_replace_within_a_line(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("x = compute(alpha, beta)\n")
    await edit(ctx, "a.py", "alpha", "gamma")
    assert (ws / "a.py").read_text() == "x = compute(gamma, beta)\n"


async def test_delete_with_empty_new_text(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("keep\nremove me\nkeep too\n")
    await edit(ctx, "a.py", "remove me\n", "")
    assert (ws / "a.py").read_text() == "keep\nkeep too\n"


async def test_ambiguous_match_refused_and_lists_lines(ctx: ToolContext, ws: Path) -> None:
    original = "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n"
    (ws / "a.py").write_text(original)
    with pytest.raises(ToolError) as caught:
        await edit(ctx, "a.py", "x = 1", "x = 9")
    message = str(caught.value)
    assert "found 3 times" in message
    assert "at lines 1, 3, 5" in message
    assert "replace_all" in message
    assert (ws / "a.py").read_text() == original
    assert not ctx.files_changed


async def test_replace_all(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n")
    result = await edit(ctx, "a.py", "x = 1", "x = 9", replace_all=True)
    assert (ws / "a.py").read_text() == "x = 9\ny = 2\nx = 9\nz = 3\nx = 9\n"
    assert result.diff is not None
    assert result.diff.count("+x = 9") == 3


async def test_trailing_whitespace_tolerant_match(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("def f():   \n    a = 1 \n    return a\n")
    result = await edit(ctx, "a.py", "def f():\n    a = 1\n", "def f():\n    a = 2\n")
    assert (ws / "a.py").read_text() == "def f():\n    a = 2\n    return a\n"
    assert "(matched ignoring trailing whitespace)" in result.output


async def test_indentation_tolerant_match_reindents(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text(
        "class A:\n    def f(self):\n        if self.x:\n            return 1\n        return 0\n"
    )
    result = await edit(
        ctx,
        "a.py",
        "if self.x:\n    return 1\n",
        "if self.x and self.y:\n    return 2\nlog('fallthrough')\n",
    )
    assert (ws / "a.py").read_text() == (
        "class A:\n"
        "    def f(self):\n"
        "        if self.x and self.y:\n"
        "            return 2\n"
        "        log('fallthrough')\n"
        "        return 0\n"
    )
    assert "(matched ignoring indentation)" in result.output


async def test_indentation_tolerant_match_when_model_over_indents(
    ctx: ToolContext, ws: Path
) -> None:
    (ws / "a.py").write_text("def f():\n    return 1\n")
    await edit(
        ctx,
        "a.py",
        "        def f():\n            return 1",
        "        def g():\n            return 2",
    )
    assert (ws / "a.py").read_text() == "def g():\n    return 2\n"


async def test_indentation_tolerant_ambiguous_refused(ctx: ToolContext, ws: Path) -> None:
    original = "if a:\n    x = 1\nif b:\n        x = 1\n"
    (ws / "a.py").write_text(original)
    with pytest.raises(ToolError, match=r"found 2 times \(at lines 2, 4\)"):
        await edit(ctx, "a.py", "  x = 1\n", "  x = 2\n")
    assert (ws / "a.py").read_text() == original


async def test_not_found_shows_closest_lines(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text(
        "import os\n\n\ndef compute_total(items):\n    total = sum(items)\n    return total\n"
    )
    with pytest.raises(ToolError) as caught:
        await edit(ctx, "a.py", "def compute_totl(items):\n    total = sum(item)\n", "def x():\n")
    message = str(caught.value)
    assert message.startswith("old_text was not found in the file.")
    assert "most similar lines are 4-5" in message
    assert "     4\tdef compute_total(items):" in message
    assert "     5\t    total = sum(items)" in message
    assert "Copy the text exactly" in message


async def test_not_found_without_anything_similar(ctx: ToolContext, ws: Path) -> None:
    original = "alpha\nbeta\n"
    (ws / "a.txt").write_text(original)
    with pytest.raises(ToolError) as caught:
        await edit(ctx, "a.txt", "zzzzzzzzzzzzzzzzzzzz qqqqqqq", "x")
    assert "not found" in str(caught.value)
    assert "most similar" not in str(caught.value)
    assert (ws / "a.txt").read_text() == original


async def test_empty_old_text_refused(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("text\n")
    with pytest.raises(ToolError, match="old_text is empty"):
        await edit(ctx, "a.txt", "", "new")
    assert (ws / "a.txt").read_text() == "text\n"


async def test_identical_old_and_new_refused(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("text\n")
    with pytest.raises(ToolError, match="the same"):
        await edit(ctx, "a.txt", "text", "text")
    assert not ctx.files_changed


async def test_missing_file(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await edit(ctx, "nope.py", "a", "b")


async def test_binary_file_refused(ctx: ToolContext, ws: Path) -> None:
    (ws / "b.bin").write_bytes(b"abc\x00def")
    with pytest.raises(ToolError, match="binary"):
        await edit(ctx, "b.bin", "abc", "xyz")
    assert (ws / "b.bin").read_bytes() == b"abc\x00def"


# --- faithful write-back ----------------------------------------------------------------------


async def test_crlf_file_stays_crlf(ctx: ToolContext, ws: Path) -> None:
    (ws / "dos.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await edit(ctx, "dos.txt", "two\nthree", "TWO\nand a half\nTHREE")
    assert (ws / "dos.txt").read_bytes() == b"one\r\nTWO\r\nand a half\r\nTHREE\r\n"


async def test_crlf_file_edited_with_crlf_old_text(ctx: ToolContext, ws: Path) -> None:
    (ws / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    await edit(ctx, "dos.txt", "one\r\ntwo", "uno\r\ndos")
    assert (ws / "dos.txt").read_bytes() == b"uno\r\ndos\r\n"


async def test_utf8_bom_kept(ctx: ToolContext, ws: Path) -> None:
    (ws / "bom.cs").write_bytes(b"\xef\xbb\xbfusing System;\nclass A {}\n")
    await edit(ctx, "bom.cs", "class A {}", "class B {}")
    assert (ws / "bom.cs").read_bytes() == b"\xef\xbb\xbfusing System;\nclass B {}\n"


async def test_cp1252_kept(ctx: ToolContext, ws: Path) -> None:
    (ws / "fr.txt").write_bytes("prix: 5 €\ncafé\n".encode("cp1252"))
    await edit(ctx, "fr.txt", "café", "crème brûlée")
    assert (ws / "fr.txt").read_bytes() == "prix: 5 €\ncrème brûlée\n".encode("cp1252")


async def test_latin1_kept(ctx: ToolContext, ws: Path) -> None:
    # 0x81 is not valid Windows-1252, so the file is Latin-1; it must come back byte for byte.
    (ws / "l1.txt").write_bytes(b"\x81 marker\nna\xefve\n")
    await edit(ctx, "l1.txt", "naïve", "señor")
    assert (ws / "l1.txt").read_bytes() == b"\x81 marker\nse\xf1or\n"


async def test_utf16_kept(ctx: ToolContext, ws: Path) -> None:
    (ws / "w.txt").write_bytes(b"\xff\xfe" + "hello\nworld\n".encode("utf-16-le"))
    await edit(ctx, "w.txt", "world", "wörld")
    assert (ws / "w.txt").read_bytes() == b"\xff\xfe" + "hello\nwörld\n".encode("utf-16-le")


async def test_trailing_newline_kept(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("a\nb\n")
    await edit(ctx, "a.txt", "b", "c")
    assert (ws / "a.txt").read_bytes() == b"a\nc\n"


async def test_missing_trailing_newline_stays_missing(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("a\nb")
    await edit(ctx, "a.txt", "b", "c")
    assert (ws / "a.txt").read_bytes() == b"a\nc"


async def test_missing_trailing_newline_stays_missing_on_loose_match(
    ctx: ToolContext, ws: Path
) -> None:
    (ws / "a.py").write_text("if x:\n    y = 1")
    await edit(ctx, "a.py", "y = 1\n", "y = 2\n")
    assert (ws / "a.py").read_bytes() == b"if x:\n    y = 2"


async def test_mode_kept(ctx: ToolContext, ws: Path) -> None:
    script = ws / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    await edit(ctx, "run.sh", "echo hi", "echo bye")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text() == "#!/bin/sh\necho bye\n"


async def test_private_mode_kept(ctx: ToolContext, ws: Path) -> None:
    secret = ws / "secret.env"
    secret.write_text("TOKEN=a\n")
    secret.chmod(0o600)
    await edit(ctx, "secret.env", "TOKEN=a", "TOKEN=b")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


# --- stale reads and guards -------------------------------------------------------------------


async def test_stale_read_refused(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("x = 1\n")
    await ReadFile(path="a.py").run(ctx)
    (ws / "a.py").write_text("x = 1\ny = 2  # added by someone else\n")
    with pytest.raises(ToolError, match="changed on disk"):
        await edit(ctx, "a.py", "x = 1", "x = 3")
    assert (ws / "a.py").read_text() == "x = 1\ny = 2  # added by someone else\n"


async def test_edit_after_reread_works(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("x = 1\n")
    await ReadFile(path="a.py").run(ctx)
    (ws / "a.py").write_text("x = 2\n")
    await ReadFile(path="a.py").run(ctx)
    await edit(ctx, "a.py", "x = 2", "x = 3")
    assert (ws / "a.py").read_text() == "x = 3\n"


async def test_edit_without_prior_read_allowed(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("x = 1\n")
    assert not ctx.snapshots
    await edit(ctx, "a.py", "x = 1", "x = 2")
    assert (ws / "a.py").read_text() == "x = 2\n"


async def test_consecutive_edits_without_reread(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.py").write_text("a = 1\nb = 2\n")
    await ReadFile(path="a.py").run(ctx)
    await edit(ctx, "a.py", "a = 1", "a = 10")
    await edit(ctx, "a.py", "b = 2", "b = 20")
    assert (ws / "a.py").read_text() == "a = 10\nb = 20\n"


async def test_unencodable_character_refused_file_unchanged(ctx: ToolContext, ws: Path) -> None:
    original = "caf\xe9\n".encode("cp1252")
    (ws / "fr.txt").write_bytes(original)
    with pytest.raises(ToolError) as caught:
        await edit(ctx, "fr.txt", "café", "café ☕")
    assert "cp1252" in str(caught.value)
    assert "☕" in str(caught.value)
    assert (ws / "fr.txt").read_bytes() == original
    assert temp_files(ws) == []
    assert not ctx.files_changed


async def test_atomic_write_failure_leaves_original_and_no_temp(
    ctx: ToolContext, ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = b"line one\nline two\n"
    (ws / "a.txt").write_bytes(original)

    def broken_replace(src: object, dst: object, **dir_fds: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ToolError) as caught:
        await edit(ctx, "a.txt", "line two", "line 2")
    monkeypatch.undo()
    # Told to the model as one sentence: which file and why, never the temp file's name.
    assert str(caught.value) == (
        "a.txt could not be written: the disk is full; the file on disk is as it was."
    )
    assert (ws / "a.txt").read_bytes() == original
    assert temp_files(ws) == []
    assert sorted(p.name for p in ws.iterdir()) == ["a.txt"]


async def test_no_temp_files_after_successful_edit(ctx: ToolContext, ws: Path) -> None:
    (ws / "a.txt").write_text("a\n")
    await edit(ctx, "a.txt", "a", "b")
    assert sorted(p.name for p in ws.iterdir()) == ["a.txt"]


async def test_edit_refuses_directory(ctx: ToolContext, ws: Path) -> None:
    (ws / "pkg").mkdir()
    with pytest.raises(ToolError, match="is a directory"):
        await edit(ctx, "pkg", "a", "b")


async def test_an_edit_that_breaks_the_syntax_is_reported(ctx: ToolContext, ws: Path) -> None:
    (ws / "app.py").write_text("def run(x):\n    return x + 1\n")
    result = await edit(ctx, "app.py", "return x + 1", "return (x + 1")
    assert "Syntax check: app.py now has a syntax error at line 2" in result.output
    assert result.summary.endswith("(syntax error)")
    fixed = await edit(ctx, "app.py", "return (x + 1", "return (x + 1)")
    assert "Syntax check" not in fixed.output


async def test_a_file_that_was_already_broken_gets_no_new_warning(
    ctx: ToolContext, ws: Path
) -> None:
    (ws / "app.py").write_text("def run(x:\n    return x\n")
    result = await edit(ctx, "app.py", "return x", "return x * 2")
    assert "Syntax check" not in result.output


async def test_files_without_a_grammar_are_not_checked(ctx: ToolContext, ws: Path) -> None:
    (ws / "notes.txt").write_text("(((\n")
    result = await edit(ctx, "notes.txt", "(((", "((((")
    assert "Syntax check" not in result.output
