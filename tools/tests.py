"""The run_tests tool: the project's tests, summarised the way an engineer reads a failure.

Runners that can write a report are asked to, to a temp folder the sandbox may write (never
the user's tree): pytest and ``node --test`` JUnit XML, jest and vitest their JSON report;
``go test -json`` streams events and ``cargo test`` prints a stable line per test. So results
are read (``tools.reports``), not guessed. Other runners (npm test with another runner, make,
the user's own command) get the exit code and the tail of their output. The full output is
always kept in a log whose path is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from agent.events import FailedTest, TestsFinished, ToolKindName
from agent.storage import private_dir, tighten
from agent.terminal import for_model
from tools.base import Tool, ToolContext, ToolError, ToolResult, plural
from tools.process import Outcome
from tools.reports import (
    Problem,
    Report,
    read_cargo,
    read_go_json,
    read_jest_json,
    read_junit,
    read_node_junit,
)
from tools.shell import execute, log_dir

RunnerKind = Literal["pytest", "go", "jest", "vitest", "node", "cargo", "plain"]
BUDGET = 5_000  # characters of a summary: under 2,000 tokens, even for 100 failures
TAIL_CHARS = 3_000
REPORTS: dict[str, str] = {
    "pytest": "report.xml",
    "node": "report.xml",
    "jest": "report.json",
    "vitest": "report.json",
}
PYTEST_ORDER = ("failed", "passed", "skipped", "xfailed", "xpassed", "error")
EVENT_FAILURES = 200  # failures listed in a test event
# A package.json test script Shipmate runs itself to pass node its reporter: node --test and
# plain words (options, paths, globs), nothing the shell would read.
NODE_SCRIPT = re.compile(r"node --test(?: [\w./*@=:+-]+)*")
# Test runners a package.json script may name instead of jest or vitest.
OTHER_JS_RUNNERS = ("mocha", "ava", "tap", "karma", "jasmine", "node", "uvu")


@dataclass(frozen=True)
class Runner:
    kind: RunnerKind
    command: str  # the base command line, before narrowing


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
            runner = _npm_runner(json.loads(package.read_text(encoding="utf-8")))
            if runner is not None:
                return runner
    if (workspace / "Cargo.toml").is_file():
        return Runner("cargo", "cargo test")
    for name in ("Makefile", "makefile", "GNUmakefile"):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = (workspace / name).read_text(encoding="utf-8")
            if re.search(r"^test\s*:", text, re.MULTILINE):
                return Runner("plain", "make test")
    return None


def _npm_runner(package: dict[str, Any]) -> Runner | None:
    """``npm test``, read as jest or vitest when its script or the dependencies name one; a
    plain ``node --test`` script is run as written, so node can be given its reporter."""
    script = package.get("scripts", {}).get("test")
    if not isinstance(script, str) or not script.strip():
        return None
    script = " ".join(script.split())
    if NODE_SCRIPT.fullmatch(script):
        return Runner("node", script)
    words = set(re.split(r"[\s/&|;()]+", script))
    for name in ("vitest", "jest"):
        if name in words:
            return Runner(name, "npm test")
    if not words.intersection(OTHER_JS_RUNNERS):
        dependencies = [package.get("dependencies"), package.get("devDependencies")]
        named = {name for group in dependencies if isinstance(group, dict) for name in group}
        found = [name for name in ("vitest", "jest") if name in named]
        if len(found) == 1:
            return Runner(found[0], "npm test")
    return Runner("plain", "npm test")


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
    """The user's test_command wins; a runner Shipmate can read in it is still read
    structurally (pytest, go test, jest, vitest, node --test, cargo test)."""
    if not setting or not setting.strip():
        return detect(workspace)
    command = setting.strip()
    words = shlex.split(command) if _splits(command) else []
    names = {word.rsplit("/", 1)[-1] for word in words}
    if "pytest" in names:
        return Runner("pytest", command)
    if words[:2] == ["go", "test"]:
        return Runner("go", command if "-json" in words else f"{command} -json")
    if words[:2] == ["node", "--test"]:
        return Runner("node", command)
    if words[:2] == ["cargo", "test"]:
        return Runner("cargo", command)
    for name in ("vitest", "jest"):
        if name in names:
            return Runner(name, command)
    if words[:2] in (["npm", "test"], ["npm", "t"]) or words[:3] == ["npm", "run", "test"]:
        found = detect(workspace)  # the project's test script, read as detection reads it
        if found is not None and found.kind in ("jest", "vitest"):
            return Runner(found.kind, command)
    return Runner("plain", command)


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
    if runner.kind in ("jest", "vitest", "node"):
        return _narrowed_js(runner, target, keyword)
    if runner.kind == "cargo":
        return _narrowed_cargo(command, target, keyword)
    extra = " ".join(shlex.quote(part) for part in (target, keyword) if part)
    if not extra:
        return command
    return _passed_on(command, extra)


def _passed_on(command: str, extra: str) -> str:
    """``extra`` arguments for the runner behind ``command``: npm needs ``--`` before them."""
    if command.startswith("npm ") and " -- " not in f"{command} ":
        return f"{command} -- {extra}"
    return f"{command} {extra}"


def _narrowed_js(runner: Runner, target: str | None, keyword: str | None) -> str:
    """A file, and a test name: a test id as Shipmate shows them
    (``test/calc.test.js::check > rejects negatives``) is both."""
    file, name = (target or "").partition("::")[::2]
    titles = name.split(" > ") if name else []
    if runner.kind == "node":  # node matches a test's own name, without its suites'
        pattern = keyword or (_js_escape(titles[-1]) if titles else "")
        words = shlex.split(runner.command)
        if file:  # node takes files after its options, instead of the script's own
            words = [*words[:2], *(word for word in words[2:] if word.startswith("-")), file]
        if pattern:
            words.insert(2, f"--test-name-pattern={pattern}")
        return shlex.join(words) if file or pattern else runner.command
    pattern = keyword or _js_escape(" ".join(titles))
    extra = [shlex.quote(file)] if file else []
    if pattern:
        extra += ["-t", shlex.quote(pattern)]
    return _passed_on(runner.command, " ".join(extra)) if extra else runner.command


def _js_escape(text: str) -> str:
    """``text`` as a JavaScript regular expression that matches it literally."""
    return re.sub(r"[.*+?^${}()|[\]\\]", lambda match: "\\" + match[0], text)


def _narrowed_cargo(command: str, target: str | None, keyword: str | None) -> str:
    """An integration test file (``--test api``), the library's or binaries' unit tests, a
    module's tests (``src/parse/mod.rs``: ``parse::``), or test names containing a filter."""
    options: list[str] = []
    filters: list[str] = []
    if target:
        path = PurePosixPath(target)
        parts = path.with_suffix("").parts
        if path.suffix != ".rs":
            filters.append(target)
        elif len(parts) == 2 and parts[0] == "tests":
            options += ["--test", parts[1]]
        elif path.as_posix() == "src/lib.rs":
            options.append("--lib")
        elif path.as_posix() == "src/main.rs":
            options.append("--bins")
        elif parts[0] == "src":
            module = [part for part in parts[1:] if part != "mod"]
            filters.append("::".join(module) + "::")
        else:
            filters.append(target)
    if keyword:
        filters.append(keyword)
    if options:
        chosen = f"cargo test {shlex.join(options)}"
        command = re.sub(r"^cargo test(?=\s|$)", lambda _: chosen, command)
    if filters:
        joined = " ".join(shlex.quote(item) for item in filters)
        command += f" {joined}" if " -- " in f"{command} " else f" -- {joined}"
    return command


def reporting(runner: Runner, command: str, report: Path) -> str:
    """The command line that runs: ``command`` and the options that make the runner write
    its report to ``report`` (what the user approved is ``command``; these only add a
    report, or keep cargo going past a failing test binary)."""
    where = shlex.quote(str(report))
    if runner.kind == "pytest":
        return f"{command} -q --tb=short -o junit_family=xunit1 --junitxml={where}"
    if runner.kind == "jest":
        return _passed_on(command, f"--json --outputFile={where}")
    if runner.kind == "vitest":  # --run: never its watch mode, which would wait for changes
        flags = f"--run --reporter=default --reporter=json --outputFile.json={where}"
        return _passed_on(command, flags)
    if runner.kind == "node":
        flags = (
            "--test-reporter=spec --test-reporter-destination=stdout "
            f"--test-reporter=junit --test-reporter-destination={where}"
        )
        return re.sub(r"^node --test(?=\s|$)", lambda _: f"node --test {flags}", command)
    if runner.kind == "cargo" and "--no-fail-fast" not in command.split():
        return re.sub(r"^cargo test(?=\s|$)", "cargo test --no-fail-fast", command)
    return command


class RunTests(Tool):
    """Run the project's tests in the sandbox (its test command, detected or the user's)
    and get a summary: the counts, then each failure's test id, message and traceback
    frames in the workspace, collection and build errors as such, and the full log's path.
    Narrow it with target (a file, folder or test id as shown, e.g.
    tests/test_app.py::test_login) and keyword (a name filter: pytest -k, go -run, jest -t)."""

    name: ClassVar[str] = "run_tests"
    kind: ClassVar[ToolKindName] = "execute"

    target: str | None = Field(
        None, description="A test file, folder or test id (tests/test_x.py::test_y); all if unset."
    )
    keyword: str | None = Field(
        None, description="Only tests matching this (pytest -k expression, a test name pattern)."
    )
    timeout: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Seconds before it is killed; at most, and by default, the user's limit.",
    )
    _runner: Runner | None = PrivateAttr(None)
    _bound: bool = PrivateAttr(False)

    @field_validator("target", "keyword")
    @classmethod
    def _not_an_option(cls, value: str | None) -> str | None:
        """Options would change what runs behind the command line the user approves."""
        if value is not None and value.strip().startswith("-"):
            raise ValueError("should be a file, test id or name, not an option")
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
            report = report_dir / REPORTS.get(runner.kind, "report")
            # No bytecode: Python checks a cached module by its source's size and mtime in whole
            # seconds, so an edit of the same size made in the second after a run (auto-test's
            # first edit, right after it measured the tests) would run the old code.
            actual = f"export PYTHONDONTWRITEBYTECODE=1; {reporting(runner, command, report)}"
            outcome = await execute(ctx, actual, timeout, writable=(report_dir,))
            log = _full_log(ctx, outcome)
            parsed = None if outcome.timed_out else _read(runner, report, outcome, ctx.workspace)
        finally:
            shutil.rmtree(report_dir, ignore_errors=True)
        text = _summarise(runner, outcome, parsed, timeout)
        text.append(f"Full log: {log}" if log else "No log was kept (the disk refused it).")
        failing = outcome.timed_out or outcome.exit_code != 0
        # Messages and frames from the report are the project's text, as output is: cleaned
        # of escape sequences and controls the same way before the model reads them.
        output = for_model("\n".join(text))
        finished = _finished(command, output.splitlines()[0], outcome, parsed, log)
        return ToolResult(output=output, is_error=failing, summary=finished.summary, tests=finished)


def _read(runner: Runner, report: Path, outcome: Outcome, workspace: Path) -> Report | None:
    match runner.kind:
        case "pytest":
            return read_junit(report, workspace)
        case "go":
            return read_go_json(_whole_output(outcome))
        case "jest" | "vitest":
            return read_jest_json(report, workspace)
        case "node":
            return read_node_junit(report, workspace, _whole_output(outcome))
        case "cargo":
            return read_cargo(_whole_output(outcome), workspace)
    return None


def _whole_output(outcome: Outcome) -> str:
    """The output to read results from: what the model sees keeps only its head and tail,
    so a long run is read from its log (Shipmate's own file, out of the sandbox's reach)."""
    if not outcome.truncated or outcome.log_path is None:
        return outcome.output
    try:
        data = outcome.log_path.read_bytes()
    except OSError:
        return outcome.output
    return for_model(data.decode("utf-8", errors="replace"))


def _finished(
    command: str, summary: str, outcome: Outcome, parsed: Report | None, log: Path | None
) -> TestsFinished:
    """The run as an event for front-ends: its counts and failing tests."""
    problems = parsed.problems if parsed and parsed.counts else []
    kinds = {"FAILED": "failed", "ERROR": "error"}
    failures = [
        FailedTest(
            test_id=for_model(problem.test_id),
            message=for_model(problem.message[0] if problem.message else "")[:200],
            kind=kinds.get(problem.label, "collection"),
        )
        for problem in problems[:EVENT_FAILURES]
    ]
    return TestsFinished(
        command=command,
        summary=summary,
        counts=parsed.counts if parsed else {},
        failures=failures,
        failures_total=len(problems),
        seconds=round(outcome.seconds, 3),
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        log=str(log) if log else None,
    )


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
    runner: Runner, outcome: Outcome, parsed: Report | None, timeout: float
) -> list[str]:
    if outcome.timed_out:
        return [
            f"timed out after {timeout:g} s; the tests and their children were killed",
            "The end of the output:",
            _tail(outcome.output),
        ]
    if parsed is None or (not parsed.counts and outcome.exit_code not in (0, 5)):
        return [
            f"exit code {outcome.exit_code} in {outcome.seconds:.2f}s",
            "The end of the output:",
            _tail(outcome.output),
        ]
    lines = [counts_line(parsed.counts, parsed.seconds or outcome.seconds)]
    if runner.kind == "pytest" and outcome.exit_code == 5:
        lines.append("pytest collected no tests: check the target and keyword.")
    labels = {problem.label for problem in parsed.problems}
    if "ERROR collecting" in labels:
        lines.append("Collection failed, so the tests of those files did not run.")
    if "ERROR compiling" in labels:
        lines.append("The build failed, so the tests did not run.")
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
