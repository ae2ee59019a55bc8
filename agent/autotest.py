"""Auto-test: after a turn that changed files, the tests run, and failures the agent's
changes brought go back to the model for a few fix rounds.

Failures that were there before the agent's first edit (measured once per session, just
before the first edit tool runs) are pre-existing: reported as such, never blamed on the
agent nor sent back. Each run goes through the permission check a run_tests call would; when
it is refused (in ``ask`` mode nobody can approve it in a one-shot run), auto-test says so
once and stays off for the rest of the session.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import prompts
from agent.config import Settings
from agent.context.prompt import fill
from agent.events import (
    AutoTestReport,
    Error,
    Event,
    PermissionDenial,
    TestsFinished,
)
from agent.policy.approval import Approver, denied, permitted
from agent.policy.permissions import Permissions
from tools.base import ToolContext, ToolError, plural
from tools.tests import RunTests

IDS_NAMED = 5  # failing tests named in a sentence; the rest are counted


class AutoTest:
    """The auto-test loop of one session. ``before_edit`` and ``after_answer`` yield what
    happened (events, and a ``PermissionDenial`` when a run was refused); after the answer,
    ``follow_up`` is the message that starts a fix round, or ``failure`` says the turn ends
    with new failures still there."""

    def __init__(
        self,
        settings: Settings,
        ctx: ToolContext,
        permissions: Permissions,
        approver: Approver,
    ) -> None:
        self.on = settings.auto_test
        self.rounds = settings.auto_test_rounds
        self.ctx = ctx
        self.permissions = permissions
        self.approver = approver
        self.measured = False
        self.baseline: TestsFinished | None = None  # the run before the first edit
        self.runs = 0
        self.begin_turn()

    def begin_turn(self) -> None:
        self.round = 0
        self.last: TestsFinished | None = None
        self.output = ""  # the last run's summary, as the model reads it
        self.state: tuple[tuple[str, int, int], ...] | None = None  # files as the last run saw them
        self.follow_up: str | None = None
        self.failure: str | None = None

    def report(self) -> AutoTestReport | None:
        """Where the turn left the tests, for its result."""
        if self.last is None:
            return None
        return AutoTestReport(
            command=self.last.command,
            summary=self.last.summary,
            rounds=self.round,
            failing=self.last.failures,
        )

    def marked(self, run: TestsFinished) -> TestsFinished:
        """``run`` with the failures that also failed before the first edit marked."""
        if self.baseline is None:
            return run
        before = {failure.test_id for failure in self.baseline.failures}
        failures = [
            failure.model_copy(update={"pre_existing": failure.test_id in before})
            for failure in run.failures
        ]
        return run.model_copy(update={"failures": failures})

    async def before_edit(self) -> AsyncIterator[Event | PermissionDenial]:
        """Once per session, before the first edit: what fails already."""
        if not self.on or self.measured:
            return
        self.measured = True
        async for item in self._run(baseline=True):
            if isinstance(item, TestsFinished):
                self.baseline = item
            yield item

    async def after_answer(
        self, changed: Callable[[], set[str]]
    ) -> AsyncIterator[Event | PermissionDenial]:
        """The model gave its final answer; ``changed()`` says which files the turn changed.
        Run the tests (unless nothing changed since they last ran) and decide what next."""
        self.follow_up = None
        files = changed() if self.on else set()
        if not files:
            return
        state = _state(self.ctx.workspace, files)
        if self.last is not None and state == self.state:  # a fix round that changed nothing
            if self._new_failures(self.last):
                self._give_up(self.last)
            return
        self.state = state
        run: TestsFinished | None = None
        async for item in self._run(baseline=False):
            if isinstance(item, TestsFinished):
                run = item
            yield item
        if run is None:
            return
        self.last = run
        if not self._new_failures(run):
            return
        if self.round >= self.rounds:
            self._give_up(run)
            return
        self.round += 1
        pre_existing = [failure.test_id for failure in run.failures if failure.pre_existing]
        note = prompts.load("auto_test_pre_existing.md")
        self.follow_up = fill(
            prompts.load("auto_test.md"),
            command=run.command,
            round=str(self.round),
            rounds=str(self.rounds),
            summary=self.output,
            pre_existing=fill(note, tests=", ".join(pre_existing)) if pre_existing else "",
        ).strip()

    def _give_up(self, run: TestsFinished) -> None:
        failing = [failure.test_id for failure in run.failures if not failure.pre_existing]
        what = _named(failing) or run.summary
        if self.round:
            rounds = plural(self.round, "auto-test fix round")
            self.failure = f"The tests still fail after {rounds} ({run.command}): {what}."
        else:
            self.failure = f"The tests fail after the agent's changes ({run.command}): {what}."

    def _new_failures(self, run: TestsFinished) -> bool:
        """Whether ``run`` fails in a way it did not before the first edit. A run that failed
        without naming tests (a runner read as plain, a timeout) is new unless the run before
        the first edit failed too; with no such run (no edit tool ran), every failure is."""
        if any(not failure.pre_existing for failure in run.failures):
            return True
        if run.failures or not _failed(run):
            return False
        return self.baseline is None or not _failed(self.baseline)

    async def _run(self, *, baseline: bool) -> AsyncIterator[Event | PermissionDenial]:
        """One run of the tests, as a run_tests call would, permission check included."""
        tool = RunTests()
        tool.bind(self.ctx)
        command = tool.command_line()
        if not command:
            self.on = False
            yield Error(
                message="Auto-test found no test command here (no pytest, go.mod, package.json "
                "test script, Cargo.toml or Makefile test target); set test_command to use it.",
                fatal=False,
            )
            return
        self.runs += 1
        call_id = f"auto-test-{self.runs}"
        check = self.permissions.check(tool)
        summary = tool.summary()
        refusal = None
        async for item in permitted(
            self.permissions, self.approver, call_id, tool, summary, check, refused=check.reason
        ):
            if isinstance(item, str):
                refusal = item
            else:
                yield item
        if refusal is not None:
            self.on = False
            yield denied(call_id, tool, summary, refusal, check)
            why = "needs approval and was refused" if check.verdict == "ask" else "is refused here"
            yield Error(
                message=f"Auto-test did not run the tests: {command} {why}, so auto-test is off "
                "for the rest of this session.",
                fatal=False,
            )
            return
        try:
            result = await tool.run(self.ctx)
        except ToolError as error:
            self.on = False
            yield Error(message=f"Auto-test did not run the tests: {error}", fatal=False)
            return
        if result.tests is None:
            return
        self.output = result.output
        run = result.tests.model_copy(update={"auto_test": True, "baseline": baseline})
        if baseline:  # what fails now fails before the first edit, by definition
            failures = [f.model_copy(update={"pre_existing": True}) for f in run.failures]
            run = run.model_copy(update={"failures": failures})
        yield self.marked(run)


def _failed(run: TestsFinished) -> bool:
    return run.timed_out or run.exit_code != 0


def _named(ids: list[str]) -> str:
    """A few test ids in a sentence, and how many more."""
    shown = ", ".join(ids[:IDS_NAMED])
    return f"{shown} and {len(ids) - IDS_NAMED} more" if len(ids) > IDS_NAMED else shown


def _state(workspace: Path, paths: set[str]) -> tuple[tuple[str, int, int], ...]:
    """The changed files as they are now (modified time and size; -1 once deleted): equal
    states mean nothing changed in between, so the tests need not run again."""
    state = []
    for path in sorted(paths):
        try:
            info = os.stat(workspace / path, follow_symlinks=False)
        except OSError:
            state.append((path, -1, -1))
            continue
        state.append((path, info.st_mtime_ns, info.st_size))
    return tuple(state)
