"""The `run_tests` tool: a program against a problem's tests, with LiveCodeBench's semantics.

Three styles: stdin/stdout tests (one run each, output compared token by token, numbers with a
tolerance), call/expected tests (one run for all: each call's value compared with its expected literal),
and a test program (HumanEval's `check(candidate)`, one run: it passes when the program exits 0).
"""

from __future__ import annotations

import asyncio
import json
import math

from pydantic import Field

from xolver.sandbox.base import Sandbox
from xolver.schema import Problem, Record

_CALL_HARNESS = """

import ast as __ast, json as __json
__results = []
for __call, __expected in __json.loads({cases!r}):
    try:
        __results.append([eval(__call) == __ast.literal_eval(__expected), None])
    except BaseException as __error:
        __results.append([False, type(__error).__name__ + ": " + str(__error)[:200]])
print("\\n__XOLVER_RESULTS__" + __json.dumps(__results))
"""


class TestOutcome(Record):
    __test__ = False

    index: int
    passed: bool
    detail: str = ""


class TestReport(Record):
    __test__ = False

    passed: int
    total: int
    outcomes: list[TestOutcome] = Field(default_factory=list)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def first_failure(self) -> str:
        failed = next((o for o in self.outcomes if not o.passed), None)
        return f"test {failed.index + 1}: {failed.detail}" if failed else ""


def _token_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    except ValueError:
        return False


def outputs_match(got: str, expected: str) -> bool:
    """Whitespace-tolerant: the same lines of the same tokens; numbers equal within a tolerance."""
    got_lines = [line.split() for line in got.strip().splitlines() if line.strip()]
    want_lines = [line.split() for line in expected.strip().splitlines() if line.strip()]
    return len(got_lines) == len(want_lines) and all(
        len(g) == len(w) and all(_token_equal(x, y) for x, y in zip(g, w, strict=True))
        for g, w in zip(got_lines, want_lines, strict=True)
    )


def has_tests(problem: Problem) -> bool:
    return bool(problem.tests) or bool(problem.test_code and problem.entry_point)


async def run_tests(
    sandbox: Sandbox, code: str, problem: Problem, *, timeout: float = 6.0, concurrency: int = 4
) -> TestReport:
    """Run `code` against `problem`'s tests. A problem without tests has a report of 0 of 0."""
    if problem.test_code and problem.entry_point:
        program = f"{code}\n\n{problem.test_code}\n\ncheck({problem.entry_point})\n"
        result = await sandbox.run(program, timeout=timeout)
        detail = "timed out" if result.timed_out else result.stderr.strip().splitlines()[-1:] or [""]
        return TestReport(
            passed=int(result.ok), total=1,
            outcomes=[TestOutcome(index=0, passed=result.ok, detail=detail if isinstance(detail, str) else detail[0])],
        )  # fmt: skip
    calls = [(i, t) for i, t in enumerate(problem.tests) if t.call is not None]
    stdio = [(i, t) for i, t in enumerate(problem.tests) if t.call is None]
    outcomes: list[TestOutcome] = []
    if calls:
        outcomes += await _run_calls(sandbox, code, calls, timeout)
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, stdin: str, expected: str) -> TestOutcome:
        async with gate:
            result = await sandbox.run(code, stdin=stdin, timeout=timeout)
        if result.timed_out:
            return TestOutcome(index=index, passed=False, detail="timed out")
        if not result.ok:
            tail = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.exit_code}"]
            return TestOutcome(index=index, passed=False, detail=tail[0][:300])
        ok = outputs_match(result.stdout, expected)
        return TestOutcome(
            index=index, passed=ok, detail="" if ok else f"expected {expected[:100]!r}, got {result.stdout[:100]!r}"
        )

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(i, t.input or "", t.output or "")) for i, t in stdio]
    outcomes += [task.result() for task in tasks]
    outcomes.sort(key=lambda o: o.index)
    return TestReport(passed=sum(o.passed for o in outcomes), total=len(outcomes), outcomes=outcomes)


async def _run_calls(sandbox: Sandbox, code: str, calls: list, timeout: float) -> list[TestOutcome]:
    cases = json.dumps([[t.call, t.expected] for _, t in calls])
    result = await sandbox.run(code + _CALL_HARNESS.format(cases=cases), timeout=timeout)
    marker = "__XOLVER_RESULTS__"
    if marker not in result.stdout:
        why = "timed out" if result.timed_out else (result.stderr.strip().splitlines()[-1:] or ["no result"])[0]
        return [TestOutcome(index=i, passed=False, detail=str(why)[:300]) for i, _ in calls]
    results = json.loads(result.stdout.rsplit(marker, 1)[1].strip())
    return [
        TestOutcome(index=i, passed=bool(ok), detail=error or ("" if ok else f"{t.call} != {t.expected}"))
        for (i, t), (ok, error) in zip(calls, results, strict=True)
    ]
