"""The `run_tests` tool: a program against a problem's tests, graded where the program cannot reach.

Three styles, each with LiveCodeBench's semantics for honest programs:
- stdin/stdout tests: one run each; the output is compared here, token by token, numbers with a tolerance;
- call/expected tests (`Solution().f(1, 2)`): one run of the harness (harness.py), which calls the program
  in a child process and sends back each result as plain, type-tagged data; the values are compared here
  with the expected literal, never with the program's own `==`;
- a test program (HumanEval's `check(candidate)`): the harness runs the check in its own process on the
  problem's own code, with the program's entry point reached through that same call protocol.

The harness reads its orders (with a per-run nonce) from stdin, makes itself unreadable to the program,
and alone writes its report; a report that is missing, late or without the nonce is a failed test. So a
program that exits early, prints a fake verdict, patches builtins or returns an object equal to
everything passes nothing.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import secrets
from importlib.resources import files
from typing import Any

from pydantic import Field

from xolver.sandbox.base import Sandbox
from xolver.schema import Problem, Record, TestCase
from xolver.tools.harness import decode

HARNESS_SOURCE = (files("xolver.tools") / "harness.py").read_text(encoding="utf-8")
HARNESS_MARGIN = 1.0  # seconds the harness keeps back to write its report before the sandbox's deadline


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


def same_value(got: Any, want: Any) -> bool:
    """Equal as data: the same type (ints and floats count as numbers, compared with a tolerance; a bool is
    only ever a bool), element by element."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    numbers = (int, float)
    if type(got) in numbers and type(want) in numbers:
        return got == want or math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    if type(got) is not type(want):
        return False
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(same_value(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(same_value(got[k], want[k]) for k in want)
    return bool(got == want)  # str, bytes, None, complex, sets of plain values: built-in types' own equality


def has_tests(problem: Problem) -> bool:
    return bool(problem.tests) or bool(problem.test_code and problem.entry_point)


async def run_tests(
    sandbox: Sandbox, code: str, problem: Problem, *, timeout: float = 6.0, concurrency: int = 4
) -> TestReport:
    """Run `code` against `problem`'s tests. A problem without tests has a report of 0 of 0."""
    if problem.test_code and problem.entry_point:
        return await _run_check(sandbox, code, problem, timeout)
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


async def _harness(sandbox: Sandbox, code: str, orders: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One harness run: its report, or a failure report when none came back whole and signed."""
    nonce = secrets.token_hex(16)
    orders = {**orders, "nonce": nonce, "seconds": max(0.5, timeout - HARNESS_MARGIN)}
    result = await sandbox.run(
        HARNESS_SOURCE, stdin=json.dumps(orders), files={"candidate.py": code}, timeout=timeout
    )
    lines = result.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict) or report.get("nonce") != nonce:
        why = "timed out" if result.timed_out else "the test harness gave no report"
        return {"passed": False, "detail": why}
    return report


async def _run_check(sandbox: Sandbox, code: str, problem: Problem, timeout: float) -> TestReport:
    """HumanEval style: `check(candidate)` runs in the harness on the problem's own code (its helpers)."""
    orders = {
        "mode": "check", "check": problem.test_code, "entry_point": problem.entry_point,
        "context": problem.text if _is_python(problem.text) else None,
    }  # fmt: skip
    report = await _harness(sandbox, code, orders, timeout)
    passed = report.get("passed") is True
    detail = "" if passed else str(report.get("detail") or "the check failed")
    return TestReport(passed=int(passed), total=1, outcomes=[TestOutcome(index=0, passed=passed, detail=detail)])


async def _run_calls(
    sandbox: Sandbox, code: str, calls: list[tuple[int, TestCase]], timeout: float
) -> list[TestOutcome]:
    report = await _harness(sandbox, code, {"mode": "calls", "calls": [t.call for _, t in calls]}, timeout)
    results = report.get("results")
    if not isinstance(results, list) or len(results) != len(calls):
        why = str(report.get("detail") or "no results")[:300]
        return [TestOutcome(index=i, passed=False, detail=why) for i, _ in calls]
    return [_compare(i, t, result) for (i, t), result in zip(calls, results, strict=True)]


def _compare(index: int, test: TestCase, result: Any) -> TestOutcome:
    if not isinstance(result, dict) or result.get("ok") is not True:
        error = result.get("error") if isinstance(result, dict) else None
        return TestOutcome(index=index, passed=False, detail=str(error or "no result")[:300])
    try:
        got, want = decode(result["value"]), ast.literal_eval(test.expected or "")
    except (KeyError, TypeError, ValueError, SyntaxError) as exc:
        return TestOutcome(index=index, passed=False, detail=f"unreadable result: {exc}"[:300])
    ok = same_value(got, want)
    detail = "" if ok else f"{test.call} gave {got!r:.100}, expected {test.expected:.100}"
    return TestOutcome(index=index, passed=ok, detail=detail)


def _is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True
