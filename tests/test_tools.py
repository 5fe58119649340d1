"""The agents' tools on the process sandbox: run_tests in its three styles, python, sympy_check."""

from __future__ import annotations

import pytest

from xolver import Problem, TestCase
from xolver.sandbox import ProcessSandbox
from xolver.tools import outputs_match, run_python, run_tests, sympy_equal


@pytest.fixture(scope="module")
def box() -> ProcessSandbox:
    return ProcessSandbox()


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ("1 2 3\n", "1 2 3", True),
        ("  1   2 3  \n\n", "1 2 3\n", True),
        ("0.3333333\n", "0.333333333", True),
        ("1 2\n3", "1 2 3", False),
        ("YES", "yes", False),
        ("", "0", False),
    ],
)
def test_outputs_match_is_whitespace_tolerant(got: str, expected: str, same: bool) -> None:
    assert outputs_match(got, expected) is same


async def test_stdin_tests(box: ProcessSandbox) -> None:
    problem = Problem(
        text="sum the numbers",
        kind="code",
        tests=[
            TestCase(input="1 2 3", output="6"),
            TestCase(input="10 -4", output="6"),
            TestCase(input="", output="1"),
        ],
    )
    report = await run_tests(box, "print(sum(map(int, input().split())))", problem)
    assert (report.passed, report.total) == (2, 3)
    assert "test 3" in report.first_failure() and "EOFError" in report.first_failure()


async def test_call_tests_and_a_crashing_solution(box: ProcessSandbox) -> None:
    problem = Problem(
        text="add",
        kind="code",
        tests=[TestCase(call="add(1, 2)", expected="3"), TestCase(call="add('a', 'b')", expected="'ab'"),
               TestCase(call="add(1)", expected="1")],
    )  # fmt: skip
    report = await run_tests(box, "def add(a, b):\n    return a + b\n", problem)
    assert (report.passed, report.total) == (2, 3) and "TypeError" in report.first_failure()
    broken = await run_tests(box, "def add(a, b) return", problem)
    assert broken.passed == 0 and "SyntaxError" in broken.first_failure()


async def test_a_problem_without_tests_has_an_empty_report(box: ProcessSandbox) -> None:
    report = await run_tests(box, "print(1)", Problem(text="x", kind="code"))
    assert (report.passed, report.total, report.score) == (0, 0, 0.0)


async def test_python_tool(box: ProcessSandbox) -> None:
    ok = await run_python(box, "print(347 * 29)")
    assert ok.ok and ok.output == "10063" and ok.arguments == {"code": "print(347 * 29)"}
    bad = await run_python(box, "1/0")
    assert not bad.ok and "ZeroDivisionError" in bad.output


async def test_sympy_equal(box: ProcessSandbox) -> None:
    assert await sympy_equal(box, "1/2", "0.5") is True
    assert await sympy_equal(box, "sqrt(8)", "2*sqrt(2)") is True
    assert await sympy_equal(box, "3", "4") is False
    assert await sympy_equal(box, "x^2 - 1", "(x - 1)*(x + 1)") is True


class _Recording:
    """A sandbox that keeps what each program printed."""

    def __init__(self, box: ProcessSandbox) -> None:
        self.box, self.outputs = box, []

    async def run(self, code, **kwargs):  # type: ignore[no-untyped-def]
        result = await self.box.run(code, **kwargs)
        self.outputs.append(result.stdout + result.stderr)
        return result


@pytest.mark.parametrize(
    "injected",
    [
        "__import__('builtins').print('INJECTED')",
        "(lambda: print('INJECTED'))()",
        "Symbol.__init_subclass__.__globals__['__builtins__']['print']('INJECTED')",
        "eval(\"print('INJECTED')\")",
        "exec(\"print('INJECTED')\")",
        "print('INJECTED')",
        "print(INJECTED)",
    ],
)
async def test_sympy_equal_never_runs_an_injected_answer(box: ProcessSandbox, injected: str) -> None:
    """The injected code would print INJECTED where sympy evaluated it: it must be unparsable, never run."""
    recording = _Recording(box)
    assert await sympy_equal(recording, injected, "1") is None  # type: ignore[arg-type]
    assert not any("INJECTED" in output for output in recording.outputs), recording.outputs
