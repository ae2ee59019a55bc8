"""Reading what test runners report, so results are read, not guessed from text.

pytest and ``node --test`` write JUnit XML, jest and vitest a JSON report, ``go test -json``
a stream of events; ``cargo test`` prints one line per test and a ``test result:`` line per
test binary, which stable Rust keeps fixed, so its output is read line by line. Each reader
gives a ``Report``: the counts, the time, and each failure as a ``Problem`` (its test id,
the assertion message, the traceback frames in the workspace, library frames folded).

The report files were written by the sandboxed tests, and Shipmate reads them as the user:
a link, anything but a regular file, or a file past MAX_REPORT_BYTES is no report.
"""

from __future__ import annotations

import json
import os
import re
import stat
import textwrap
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.terminal import for_model
from tools.base import plural

MESSAGE_LINES = 8
MESSAGE_CHARS = 600
FRAMES_SHOWN = 5
MAX_REPORT_BYTES = 50_000_000
LIBRARY_PARTS = {"site-packages", "dist-packages", ".venv", "venv", "node_modules"}
FRAME = re.compile(r"^(?P<path>\S.*?):(?P<line>\d+): in (?P<func>\S+)$")
# A JavaScript stack frame: "at fn (/ws/a.js:4:21)", "at /ws/a.js:4:21", "at file:///ws/a.js:4:21".
JS_FRAME = re.compile(
    r"^\s*at (?:(?P<func>.+?) \()?(?:file://)?(?P<path>[^()\s]+?):(?P<line>\d+):\d+\)?$"
)
JS_AT = re.compile(r"^\s*at \S")
# A code frame jest and vitest print under a message ("> 4 |   expect(…)", "    |    ^").
CODE_FRAME = re.compile(r"^\s*>?\s*\d*\s*\|")
CARGO_TEST = re.compile(r"^test (?P<name>.+?) \.\.\. (?P<result>ok|FAILED|ignored\b.*)$")
CARGO_RESULT = re.compile(
    r"^test result: \w+\. (?P<passed>\d+) passed; (?P<failed>\d+) failed; (?P<ignored>\d+) "
    r"ignored;.*finished in (?P<seconds>[\d.]+)s"
)
CARGO_SECTION = re.compile(r"^---- (?P<name>.+) (?:stdout|stderr) ----$")
# Rust 1.73+: "thread 'x' (123) panicked at src/lib.rs:16:9:", then the message; before
# that: "thread 'x' panicked at 'msg', src/lib.rs:16:9".
PANIC_AT = re.compile(r"^thread '[^']*'(?: \(\d+\))? panicked at (?P<where>\S+:\d+:\d+):$")
PANIC_OLD = re.compile(r"^thread '[^']*' panicked at '(?P<message>.*)', (?P<where>\S+:\d+:\d+)$")
LOAD_ERROR = re.compile(r"^\w*Error\b")
RUST_FRAME = re.compile(r"^\s+\d+: (?P<func>.+)$")
RUST_AT = re.compile(r"^\s+at (?P<path>.+?):(?P<line>\d+):\d+$")
RUST_ERROR = re.compile(r"^error(?:\[E\d+\])?: (?P<message>.+)$")
RUST_ERROR_AT = re.compile(r"^\s*--> (?P<where>.+:\d+:\d+)$")
# cargo's own closing errors, which repeat what was already read.
CARGO_NOISE = re.compile(
    r"^(could not compile|test failed, to rerun|\d+ targets? failed|aborting due to|"
    r"build failed)"
)


@dataclass
class Problem:
    """One failed test, error or collection error, ready to be shown."""

    label: str  # FAILED / ERROR / ERROR collecting / ERROR compiling
    test_id: str
    message: list[str]
    frames: list[str] = field(default_factory=list)
    folded: int = 0  # library frames left out


@dataclass
class Report:
    counts: dict[str, int]
    seconds: float
    problems: list[Problem]


def report_bytes(path: Path) -> bytes | None:
    """The report's bytes: the sandboxed command could have put anything in its place, a
    link to ~/.ssh/id_rsa or a FIFO included, and Shipmate reads it as the user."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
                return None
            return handle.read(MAX_REPORT_BYTES + 1)
    except OSError:
        return None


def _xml_root(path: Path) -> ElementTree.Element | None:
    data = report_bytes(path)
    if data is None:
        return None
    parser = ElementTree.XMLParser(target=ElementTree.TreeBuilder(insert_comments=True))
    try:
        parser.feed(data)
        return parser.close()
    except ElementTree.ParseError:
        return None


def _add(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def read_junit(path: Path, workspace: Path) -> Report | None:
    """pytest's JUnit XML report (xunit1, so each case names its file), or None if absent."""
    root = _xml_root(path)
    if root is None:
        return None
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    seconds = sum(float(suite.get("time", 0) or 0) for suite in root.iter("testsuite"))
    for case in root.iter("testcase"):
        outcomes = [child for child in case if child.tag in ("failure", "error", "skipped")]
        if not outcomes:
            _add(counts, "passed")
        for child in outcomes:
            if child.tag == "skipped":
                _add(counts, "xfailed" if child.get("type") == "pytest.xfail" else "skipped")
                continue
            _add(counts, "failed" if child.tag == "failure" else "error")
            problems.append(_problem(case, child, workspace))
    return Report(counts, seconds, problems)


def _test_id(case: ElementTree.Element) -> str:
    """The pytest node id (tests/test_app.py::TestLogin::test_ok) from a case's attributes."""
    file = case.get("file") or ""
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    if not file:
        return name
    module = file.removesuffix(".py").replace("/", ".")
    classes = classname.removeprefix(module).strip(".")
    return "::".join(part for part in (file, *classes.split("."), name) if part)


def _problem(case: ElementTree.Element, child: ElementTree.Element, workspace: Path) -> Problem:
    text = child.text or ""
    message_attr = child.get("message") or ""
    if not case.get("classname") and message_attr == "collection failure":
        label = "ERROR collecting"
        test_id = case.get("file") or (case.get("name") or "").replace(".", "/") + ".py"
    else:
        label = "FAILED" if child.tag == "failure" else "ERROR"
        test_id = _test_id(case)
    message = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    message = [line for line in message if line] or message_attr.splitlines()
    if child.tag == "error" and label == "ERROR" and message_attr:
        message = [message_attr, *message] if message_attr not in message else message
    frames, folded = _frames(text, workspace)
    return Problem(label, test_id, _cut(message), frames, folded)


def _cut(message: list[str]) -> list[str]:
    kept: list[str] = []
    size = 0
    for line in message[:MESSAGE_LINES]:
        line = line if len(line) <= 200 else line[:200] + "…"
        size += len(line)
        if size > MESSAGE_CHARS:
            break
        kept.append(line)
    if len(kept) < len(message):
        kept.append(f"… ({plural(len(message) - len(kept), 'more line')})")
    return kept


def _shown(frames: list[str], folded: int) -> tuple[list[str], int]:
    """The innermost FRAMES_SHOWN frames; the outer ones count as folded."""
    dropped = max(0, len(frames) - FRAMES_SHOWN)
    return frames[dropped:], folded + dropped


def _frames(text: str, workspace: Path) -> tuple[list[str], int]:
    """The traceback's frames in the workspace, each with its source line, and how many
    library frames (installed packages, the standard library) were folded."""
    lines = text.splitlines()
    frames: list[str] = []
    folded = 0
    for number, line in enumerate(lines):
        match = FRAME.match(line)
        if not match:
            continue
        path = match["path"]
        if not _in_workspace(path, workspace):
            folded += 1
            continue
        source = lines[number + 1].strip() if number + 1 < len(lines) else ""
        frames.append(f"{path}:{match['line']} in {match['func']}: {source}".rstrip(": "))
    return _shown(frames, folded)


def _in_workspace(path: str, workspace: Path) -> bool:
    if path.startswith("<") or path.startswith("node:"):
        return False
    try:
        real = (workspace / path).resolve()
    except (OSError, RuntimeError):
        return False
    if not real.is_relative_to(workspace):
        return False
    return not LIBRARY_PARTS.intersection(real.relative_to(workspace).parts)


def relative(path: str, workspace: Path) -> str:
    """A path the runner printed (absolute, or a file:// URL), as the workspace names it."""
    path = path.removeprefix("file://")
    candidate = PurePosixPath(path)
    if candidate.is_absolute() and candidate.is_relative_to(workspace.as_posix()):
        return candidate.relative_to(workspace.as_posix()).as_posix()
    return path


def read_go_json(output: str) -> Report | None:
    """``go test -json`` events: each test's result and its output; lines that are not
    events (a build error) make a package's failure."""
    counts: dict[str, int] = {}
    outputs: dict[tuple[str, str], list[str]] = {}
    failed_in: set[str] = set()  # packages with a failed test of their own
    problems: list[Problem] = []
    stray: list[str] = []
    seconds = 0.0
    events = 0
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            if line.strip():
                stray.append(line.rstrip())
            continue
        if not isinstance(event, dict):
            continue
        events += 1
        package, test = str(event.get("Package", "")), str(event.get("Test", ""))
        action = event.get("Action")
        if action == "output":
            outputs.setdefault((package, test), []).append(str(event.get("Output", "")).rstrip())
            continue
        if action not in ("pass", "fail", "skip"):
            continue
        if not test:
            seconds += float(event.get("Elapsed", 0) or 0)
            if action == "fail" and package not in failed_in:
                said = [text for text in outputs.get((package, ""), []) if text.strip()]
                problems.append(Problem("ERROR", package, _cut(stray + said or ["build failed"])))
                _add(counts, "error")
            continue
        _add(counts, {"pass": "passed", "fail": "failed", "skip": "skipped"}[action])
        if action == "fail":
            failed_in.add(package)
            said = [
                text.strip()
                for text in outputs.get((package, test), [])
                if text.strip() and not text.lstrip().startswith(("=== RUN", "--- FAIL"))
            ]
            problems.append(Problem("FAILED", f"{package}.{test}", _cut(said)))
    if not events:
        return None
    return Report(counts, seconds, problems)


def js_frames(text: str, workspace: Path) -> tuple[list[str], int]:
    """A JavaScript stack's frames in the workspace (``test/calc.test.js:4 in add``); those
    of node_modules, node's internals and native code are folded."""
    frames: list[str] = []
    folded = 0
    for line in text.splitlines():
        if not JS_AT.match(line):
            continue
        match = JS_FRAME.match(line)
        path = match["path"].removeprefix("file://") if match else ""
        if match is None or not _in_workspace(path, workspace):
            folded += 1
            continue
        where = f"{relative(path, workspace)}:{match['line']}"
        frames.append(f"{where} in {match['func']}" if match["func"] else where)
    frames.reverse()  # innermost last, as in a Python traceback
    return _shown(frames, folded)


def js_message(text: str) -> list[str]:
    """An error's message: its lines before the stack, without the code frame around the
    failing line (the frames say where it is)."""
    lines: list[str] = []
    for line in text.splitlines():
        if JS_AT.match(line):
            break
        if line.strip() and not CODE_FRAME.match(line):
            lines.append(line.rstrip())
    if not lines:
        return []
    # The first line starts the error; the rest keep their indentation relative to each other.
    return [lines[0].strip(), *textwrap.dedent("\n".join(lines[1:])).splitlines()]


class _JestAssertion(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    ancestors: list[str] = Field([], alias="ancestorTitles")
    title: str = ""
    status: str = ""
    failure_messages: list[str] = Field([], alias="failureMessages")


class _JestSuite(BaseModel):
    name: str = ""
    status: str = ""
    message: str = ""
    end: float | None = Field(None, alias="endTime")
    assertions: list[_JestAssertion] = Field([], alias="assertionResults")


class _JestReport(BaseModel):
    start: float | None = Field(None, alias="startTime")
    suites: list[_JestSuite] = Field([], alias="testResults")


def read_jest_json(path: Path, workspace: Path) -> Report | None:
    """jest's ``--json`` report, or vitest's ``json`` reporter (the same shape): each test's
    status and failure messages, and suites that failed to run (a syntax error)."""
    data = report_bytes(path)
    if data is None:
        return None
    try:
        report = _JestReport.model_validate_json(data)
    except ValidationError:
        return None
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    for suite in report.suites:
        file = relative(suite.name, workspace)
        failed = False
        for test in suite.assertions:
            if test.status == "passed":
                _add(counts, "passed")
            elif test.status == "failed":
                failed = True
                _add(counts, "failed")
                text = _local(test.failure_messages, workspace)
                frames, folded = js_frames(text, workspace)
                test_id = f"{file}::{' > '.join([*test.ancestors, test.title])}"
                problems.append(Problem("FAILED", test_id, _cut(js_message(text)), frames, folded))
            else:  # pending, skipped, todo, disabled
                _add(counts, "skipped")
        if suite.status == "failed" and not failed:
            _add(counts, "error")
            text = _local([suite.message], workspace)
            details = text.split("Details:", 1)[-1]
            message = [line for line in js_message(details) if "suite failed to run" not in line]
            frames, folded = js_frames(details, workspace)
            problems.append(Problem("ERROR collecting", file, _cut(message), frames, folded))
    ends = [suite.end for suite in report.suites if suite.end is not None]
    seconds = (max(ends) - report.start) / 1000 if ends and report.start is not None else 0.0
    return Report(counts, max(seconds, 0.0), problems)


def _local(texts: list[str], workspace: Path) -> str:
    """A runner's messages, cleaned like output, with the workspace's paths made relative."""
    return for_model("\n".join(texts)).replace(f"{workspace.as_posix()}/", "")


def read_node_junit(path: Path, workspace: Path, output: str) -> Report | None:
    """``node --test``'s JUnit report. Its cases name no file, so a failure's id takes the
    file from its stack (``test/math.test.js::group > adds``); a file that failed to load
    (a syntax error) is a case named by its path, whose error only the output shows."""
    root = _xml_root(path)
    if root is None:
        return None
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    seconds = 0.0

    def visit(element: ElementTree.Element, titles: list[str]) -> None:
        nonlocal seconds
        for child in element:
            if child.tag is ElementTree.Comment:
                text = (child.text or "").strip()
                if text.startswith("duration_ms "):
                    seconds += float(text.split()[1]) / 1000
            elif child.tag == "testsuite":
                visit(child, [*titles, child.get("name") or ""])
            elif child.tag == "testcase":
                _node_case(child, titles, workspace, output, counts, problems)

    try:
        visit(root, [])
    except (ValueError, RecursionError):  # a bad duration, suites nested without end
        return None
    return Report(counts, seconds, problems)


def _node_case(
    case: ElementTree.Element,
    titles: list[str],
    workspace: Path,
    output: str,
    counts: dict[str, int],
    problems: list[Problem],
) -> None:
    name = case.get("name") or ""
    failure = case.find("failure")
    if case.find("skipped") is not None:
        _add(counts, "skipped")
        return
    if failure is None:
        _add(counts, "passed")
        return
    text = _local([failure.text or ""], workspace)
    if os.path.isabs(name) and _in_workspace(name, workspace):  # the file itself failed
        _add(counts, "error")
        file = relative(name, workspace)
        problems.append(Problem("ERROR collecting", file, _cut(_load_error(output, name))))
        return
    _add(counts, "failed")
    cause = text.split("cause: ", 1)[-1] if "cause: " in text else text
    frames, folded = js_frames(cause, workspace)
    message = [line for line in js_message(cause) if not re.match(r"^\w+: .*,$|^[{}]$", line)]
    file = frames[0].split(":", 1)[0] if frames else ""  # the outermost: the test's own file
    test_id = " > ".join([*titles, name])
    test_id = f"{file}::{test_id}" if file else test_id
    problems.append(Problem("FAILED", test_id, _cut(message), frames, folded))


def _load_error(output: str, file: str) -> list[str]:
    """What node printed when ``file`` failed to load: the error line after its path."""
    lines = output.splitlines()
    for number, line in enumerate(lines):
        if line.startswith(file):
            errors = [text for text in lines[number : number + 12] if LOAD_ERROR.match(text)]
            if errors:
                return errors[:1]
    return ["the file failed to load (see the full log)"]


def read_cargo(output: str, workspace: Path) -> Report | None:
    """``cargo test``'s output: the ``test result:`` lines give the counts, the ``test x ...
    FAILED`` lines the failures, each one's ``---- x stdout ----`` section its panic (and,
    with RUST_BACKTRACE, the frames); compiler errors stop the tests and are shown as such."""
    counts: dict[str, int] = {}
    seconds = 0.0
    failed: list[str] = []
    sections: dict[str, list[str]] = {}
    section: list[str] | None = None
    problems: list[Problem] = []
    lines = output.splitlines()
    for number, line in enumerate(lines):
        if result := CARGO_RESULT.match(line):
            for name, key in (("passed", "passed"), ("failed", "failed"), ("ignored", "skipped")):
                if int(result[name]):
                    counts[key] = counts.get(key, 0) + int(result[name])
            seconds += float(result["seconds"])
            section = None
        elif test := CARGO_TEST.match(line):
            if test["result"] == "FAILED":
                failed.append(test["name"])
        elif header := CARGO_SECTION.match(line):
            section = sections.setdefault(header["name"], [])
        elif line in ("failures:", "successes:"):
            section = None
        elif section is not None:
            section.append(line)
        elif (error := RUST_ERROR.match(line)) and not CARGO_NOISE.match(error["message"]):
            # A compiler error says where; cargo's or rustup's own (no toolchain) do not,
            # and are left to the output's tail.
            after = (RUST_ERROR_AT.match(text) for text in lines[number + 1 : number + 3])
            where = next((match["where"] for match in after if match), None)
            if where is not None:
                _add(counts, "error")
                problems.append(Problem("ERROR compiling", where, [error["message"]]))
    if not counts:
        return None
    for name in failed:
        message, frames, folded = _panic(sections.get(name, []), workspace)
        problems.append(Problem("FAILED", name, _cut(message), frames, folded))
    return Report(counts, seconds, problems)


def _panic(section: list[str], workspace: Path) -> tuple[list[str], list[str], int]:
    """A failed test's message (the panic's, then what the test printed), and its frames:
    the backtrace's in the workspace when there is one, else where it panicked."""
    panic: list[str] = []
    printed: list[str] = []
    frames: list[str] = []
    folded = 0
    where = ""
    function = ""
    in_panic = False
    for line in section:
        if match := PANIC_AT.match(line):
            where, in_panic = match["where"], True
        elif match := PANIC_OLD.match(line):
            where = match["where"]
            panic.append(match["message"])
        elif match := RUST_FRAME.match(line):
            function, in_panic = match["func"], False
        elif match := RUST_AT.match(line):
            path = match["path"].removeprefix("./")
            if _in_workspace(path, workspace):
                frames.append(f"{relative(path, workspace)}:{match['line']} in {function}")
            else:
                folded += 1
        elif not line.strip() or line.startswith(("note: ", "stack backtrace:")):
            in_panic = False
        elif line.strip() in ("stderr:", "stdout:") or line.startswith("Test executable failed"):
            continue
        elif in_panic:
            panic.append(line.rstrip())
        else:
            printed.append(line.rstrip())
    if not frames and where and _in_workspace(where.split(":")[0], workspace):
        frames = [where.rsplit(":", 1)[0]]
    # A test's closure frame stands under the test's own: one says where as well as both.
    functions = {frame.rsplit(" in ", 1)[-1] for frame in frames}
    frames = [
        frame
        for frame in frames
        if not frame.endswith("::{{closure}}")
        or frame.rsplit(" in ", 1)[-1].removesuffix("::{{closure}}") not in functions
    ]
    frames.reverse()  # a backtrace lists the innermost first
    frames, folded = _shown(frames, folded)
    return panic + printed, frames, folded
