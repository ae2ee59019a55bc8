"""The run_tests tool: the project's tests, summarised the way an engineer reads a failure.

pytest writes a JUnit XML report (to a temp folder the sandbox may write, never the user's
tree) and ``go test -json`` a stream of events, so results are read, not guessed from text
with regexes. Other runners (npm, cargo, make, the user's own command) get the exit code
and the tail of their output. The full output is always kept in a log whose path is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import stat
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from agent.events import ToolKindName
from agent.storage import private_dir, tighten
from agent.terminal import for_model
from tools.base import Tool, ToolContext, ToolError, ToolResult, plural
from tools.process import Outcome
from tools.shell import execute, log_dir

RunnerKind = Literal["pytest", "go", "plain"]
BUDGET = 5_000  # characters of a summary: under 2,000 tokens, even for 100 failures
MESSAGE_LINES = 8
MESSAGE_CHARS = 600
FRAMES_SHOWN = 5
TAIL_CHARS = 3_000
REPORT = "report.xml"
MAX_REPORT_BYTES = 50_000_000
LIBRARY_PARTS = {"site-packages", "dist-packages", ".venv", "venv", "node_modules"}
FRAME = re.compile(r"^(?P<path>\S.*?):(?P<line>\d+): in (?P<func>\S+)$")
PYTEST_ORDER = ("failed", "passed", "skipped", "xfailed", "xpassed", "error")


@dataclass(frozen=True)
class Runner:
    kind: RunnerKind
    command: str  # the base command line, before narrowing


@dataclass
class Problem:
    """One failed test, error or collection error, ready to be shown."""

    label: str  # FAILED / ERROR / ERROR collecting
    test_id: str
    message: list[str]
    frames: list[str] = field(default_factory=list)
    folded: int = 0  # library frames left out


@dataclass
class Report:
    counts: dict[str, int]
    seconds: float
    problems: list[Problem]


def detect(workspace: Path) -> Runner | None:
    """The project's test runner, from the files that configure one."""
    if _uses_pytest(workspace):
        python = ".venv/bin/python" if (workspace / ".venv/bin/python").is_file() else "python"
        if python == "python" and shutil.which("python") is None:
            python = "python3"
        return Runner("pytest", f"{python} -m pytest")
    if (workspace / "go.mod").is_file():
        return Runner("go", "go test -json ./...")
    package = workspace / "package.json"
    if package.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if json.loads(package.read_text(encoding="utf-8")).get("scripts", {}).get("test"):
                return Runner("plain", "npm test")
    if (workspace / "Cargo.toml").is_file():
        return Runner("plain", "cargo test")
    for name in ("Makefile", "makefile", "GNUmakefile"):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = (workspace / name).read_text(encoding="utf-8")
            if re.search(r"^test\s*:", text, re.MULTILINE):
                return Runner("plain", "make test")
    return None


def _uses_pytest(workspace: Path) -> bool:
    for name, marker in (
        ("pytest.ini", ""),
        ("conftest.py", ""),
        ("pyproject.toml", "[tool.pytest"),
        ("setup.cfg", "[tool:pytest]"),
        ("tox.ini", "[pytest]"),
    ):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if marker in (workspace / name).read_text(encoding="utf-8"):
                return True
    for folder in (workspace, workspace / "tests", workspace / "test"):
        if any(folder.glob("test_*.py")) or any(folder.glob("*_test.py")):
            return True
    return False


def runner_for(setting: str | None, workspace: Path) -> Runner | None:
    """The user's test_command wins; pytest or go test in it are still read structurally."""
    if setting and setting.strip():
        words = shlex.split(setting) if _splits(setting) else []
        if "pytest" in words or any(word.endswith("/pytest") for word in words):
            return Runner("pytest", setting.strip())
        if words[:2] == ["go", "test"]:
            return Runner("go", setting.strip() if "-json" in words else f"{setting.strip()} -json")
        return Runner("plain", setting.strip())
    return detect(workspace)


def _splits(text: str) -> bool:
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def narrowed(runner: Runner, target: str | None, keyword: str | None) -> str:
    """The command line with the model's file, test id or keyword added."""
    command = runner.command
    if runner.kind == "pytest":
        if target:
            command += f" {shlex.quote(target)}"
        if keyword:
            command += f" -k {shlex.quote(keyword)}"
        return command
    if runner.kind == "go":
        if target:
            command = command.replace(" ./...", "") + f" {shlex.quote(target)}"
        if keyword:
            command += f" -run {shlex.quote(keyword)}"
        return command
    extra = " ".join(shlex.quote(part) for part in (target, keyword) if part)
    if not extra:
        return command
    return f"{command} -- {extra}" if command.startswith("npm ") else f"{command} {extra}"


class RunTests(Tool):
    """Run the project's tests (pytest, go test, npm test, cargo test, make test, or the
    user's test command) in the sandbox and get a summary: the counts, then for each failure
    its test id, assertion message and the traceback frames in the workspace (library frames
    folded), collection and syntax errors shown as such, and the path of the full log.
    Narrow the run with target (a file, folder or pytest test id such as
    tests/test_app.py::test_login) and keyword (pytest -k, go test -run)."""

    name: ClassVar[str] = "run_tests"
    kind: ClassVar[ToolKindName] = "execute"

    target: str | None = Field(
        None, description="A test file, folder or test id (tests/test_x.py::test_y); all if unset."
    )
    keyword: str | None = Field(
        None, description="Only tests matching this (pytest -k expression, go test -run)."
    )
    timeout: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Seconds before it is killed; at most, and by default, the user's limit.",
    )
    _runner: Runner | None = PrivateAttr(None)
    _bound: bool = PrivateAttr(False)

    @field_validator("target")
    @classmethod
    def _not_an_option(cls, value: str | None) -> str | None:
        """Options would change what runs behind the command line the user approves."""
        if value is not None and value.strip().startswith("-"):
            raise ValueError("should be a file, folder or test id, not an option")
        return value

    def bind(self, ctx: ToolContext) -> None:
        self._runner = runner_for(ctx.test_command, ctx.workspace)
        self._bound = True

    def command_line(self) -> str:
        return narrowed(self._runner, self.target, self.keyword) if self._runner else ""

    def subject(self) -> str:
        return self.command_line()

    def summary(self) -> str:
        return f"run_tests: {self.command_line() or 'no test command found'}"

    async def run(self, ctx: ToolContext) -> ToolResult:
        if not self._bound:
            self.bind(ctx)
        runner = self._runner
        if runner is None:
            raise ToolError(
                "No test command was found (no pytest, go.mod, package.json test script, "
                "Cargo.toml or Makefile test target). Run the tests with run_command, or ask "
                "the user to set test_command."
            )
        timeout = min(self.timeout or ctx.command_timeout, ctx.command_timeout)
        command = self.command_line()
        report_dir = Path(tempfile.mkdtemp(prefix="shipmate-tests-"))
        try:
            report = report_dir / REPORT
            actual = command
            if runner.kind == "pytest":
                actual += (
                    f" -q --tb=short -o junit_family=xunit1 --junitxml={shlex.quote(str(report))}"
                )
            outcome = await execute(ctx, actual, timeout, writable=(report_dir,))
            log = _full_log(ctx, outcome)
            text = _summarise(ctx.workspace, runner, outcome, report, timeout)
        finally:
            shutil.rmtree(report_dir, ignore_errors=True)
        text.append(f"Full log: {log}" if log else "No log was kept (the disk refused it).")
        failing = outcome.timed_out or outcome.exit_code != 0
        # Messages and frames from the report are the project's text, as output is: cleaned
        # of escape sequences and controls the same way before the model reads them.
        return ToolResult(output=for_model("\n".join(text)), is_error=failing, summary=text[0])


def _full_log(ctx: ToolContext, outcome: Outcome) -> Path | None:
    """The log of the whole output: the one kept when the output was cut, else a new one."""
    if outcome.log_path is not None:
        return outcome.log_path
    try:
        folder = private_dir(log_dir(ctx))
        fd, name = tempfile.mkstemp(prefix="command-", suffix=".log", dir=folder)
        tighten(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(outcome.output)
    except OSError:
        return None
    return Path(name)


def _summarise(
    workspace: Path, runner: Runner, outcome: Outcome, report: Path, timeout: float
) -> list[str]:
    if outcome.timed_out:
        return [
            f"timed out after {timeout:g} s; the tests and their children were killed",
            "The end of the output:",
            _tail(outcome.output),
        ]
    parsed: Report | None = None
    if runner.kind == "pytest":
        parsed = read_junit(report, workspace)
    elif runner.kind == "go":
        parsed = read_go_json(outcome.output)
    if parsed is None or (not parsed.counts and outcome.exit_code not in (0, 5)):
        return [
            f"exit code {outcome.exit_code} in {outcome.seconds:.2f}s",
            "The end of the output:",
            _tail(outcome.output),
        ]
    lines = [counts_line(parsed.counts, parsed.seconds)]
    if runner.kind == "pytest" and outcome.exit_code == 5:
        lines.append("pytest collected no tests: check the target and keyword.")
    if any(problem.label == "ERROR collecting" for problem in parsed.problems):
        lines.append("Collection failed, so the tests of those files did not run.")
    lines += render(parsed.problems)
    return lines


def counts_line(counts: dict[str, int], seconds: float) -> str:
    """``3 failed, 5 passed, 1 skipped in 0.42s``, as pytest words it."""
    words = []
    for name in PYTEST_ORDER:
        count = counts.get(name, 0)
        if count:
            noun = "errors" if name == "error" and count > 1 else name
            words.append(f"{count} {noun}")
    return f"{', '.join(words) or 'no tests ran'} in {seconds:.2f}s"


def render(problems: list[Problem]) -> list[str]:
    """Each problem in detail while the budget lasts, then ids only, then a count."""
    lines: list[str] = []
    used = 0
    shown = 0
    for problem in problems:
        block = [f"{problem.label} {problem.test_id}"]
        block += [f"  {line}" for line in problem.message]
        block += [f"  {frame}" for frame in problem.frames]
        if problem.folded:
            block.append(f"  ({plural(problem.folded, 'library frame')} folded)")
        size = sum(len(line) + 1 for line in block)
        if used + size > BUDGET * 2 // 3:
            block = [f"{problem.label} {problem.test_id}"]
            size = len(block[0]) + 1
        if used + size > BUDGET:
            break
        lines += block
        used += size
        shown += 1
    if shown < len(problems):
        lines.append(f"… and {len(problems) - shown} more not shown (see the full log).")
    return lines


def _tail(output: str) -> str:
    text = output.rstrip()
    return text[-TAIL_CHARS:] if len(text) > TAIL_CHARS else text or "(no output)"


def read_junit(path: Path, workspace: Path) -> Report | None:
    """pytest's JUnit XML report (xunit1, so each case names its file), or None if absent.

    The sandboxed command could write anything in its place, a link to ~/.ssh/id_rsa
    included, and Shipmate reads it as the user: a link, anything but a regular file, or a
    report past MAX_REPORT_BYTES is no report.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
                return None
            root = ElementTree.fromstring(handle.read(MAX_REPORT_BYTES + 1))
    except (OSError, ElementTree.ParseError):
        return None
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    seconds = sum(float(suite.get("time", 0) or 0) for suite in root.iter("testsuite"))
    for case in root.iter("testcase"):
        outcomes = [child for child in case if child.tag in ("failure", "error", "skipped")]
        if not outcomes:
            counts["passed"] = counts.get("passed", 0) + 1
        for child in outcomes:
            if child.tag == "skipped":
                name = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                counts[name] = counts.get(name, 0) + 1
                continue
            name = "failed" if child.tag == "failure" else "error"
            counts[name] = counts.get(name, 0) + 1
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
    dropped = max(0, len(frames) - FRAMES_SHOWN)
    return frames[dropped:], folded + dropped


def _in_workspace(path: str, workspace: Path) -> bool:
    if path.startswith("<"):
        return False
    try:
        real = (workspace / path).resolve()
    except (OSError, RuntimeError):
        return False
    if not real.is_relative_to(workspace):
        return False
    return not LIBRARY_PARTS.intersection(real.relative_to(workspace).parts)


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
                counts["error"] = counts.get("error", 0) + 1
            continue
        name = {"pass": "passed", "fail": "failed", "skip": "skipped"}[action]
        counts[name] = counts.get(name, 0) + 1
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
