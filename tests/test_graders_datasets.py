"""Math grading with math-verify, the built-in problem sets, and the public file formats."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from xolver.bench.datasets import BUILTIN_SIZES, decode_private_tests, load_problems
from xolver.errors import GradingError
from xolver.sandbox import ProcessSandbox
from xolver.tools.grading import MathGrader, grade_code

EQUAL = [
    ("10063", "10063"), ("10063", "10,063"), ("10063", "10063.0"), ("1/2", "0.5"), ("\\frac{1}{2}", "1/2"),
    ("\\frac{1}{2}", "\\dfrac{1}{2}"), ("\\frac{3}{4}", "0.75"), ("2\\sqrt{2}", "\\sqrt{8}"), ("\\pi", "\\pi"),
    ("x^2+2x+1", "(x+1)^2"), ("-5", "-5"), ("3", "3.0"), ("\\{1,2,3\\}", "\\{3,2,1\\}"), ("(1,2)", "(1, 2)"),
    ("204", "204"), ("\\sqrt{3}/3", "\\frac{1}{\\sqrt{3}}"), ("2^{10}", "1024"), ("5", "\\boxed{5}"),
    ("\\frac{\\pi}{2}", "\\pi/2"), ("1.5", "\\frac{3}{2}"), ("e^{0}", "1"), ("12", "12"), ("0", "0.0"),
    ("100", "10^2"), ("6", "3!"), ("\\infty", "\\infty"), ("\\frac{2}{4}", "\\frac{1}{2}"), ("7", "7"),
    ("45^\\circ", "45"), ("9", "\\sqrt{81}"), ("\\left(2, 3\\right)", "(2,3)"), ("-\\frac{1}{3}", "-1/3"),
]  # fmt: skip
DIFFERENT = [
    ("10063", "10064"), ("10063", "1006"), ("1/2", "0.51"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("2\\sqrt{2}", "\\sqrt{2}"),
    ("x^2+2x+1", "x^2+1"), ("-5", "5"), ("3", "4"), ("\\{1,2,3\\}", "\\{1,2\\}"), ("(1,2)", "(2,1)"),
    ("204", "240"), ("\\pi", "3"), ("1024", "2^{9}"), ("5", "five apples"), ("\\frac{\\pi}{2}", "\\pi"),
    ("1.5", "2/3"), ("12", ""), ("0", "1"), ("100", "10"), ("6", "3"), ("\\infty", "0"), ("7", "-7"),
    ("9", "\\sqrt{80}"), ("(2,3)", "(2,4)"), ("-\\frac{1}{3}", "\\frac{1}{3}"), ("84", "89"), ("42", "24"),
    ("63", "37"), ("1", "i"), ("2", "\\sqrt{2}"),
]  # fmt: skip


@pytest.fixture(scope="module")
def grader():
    grader = MathGrader(timeout=20)
    yield grader
    grader.close()


def test_at_least_sixty_pairs() -> None:
    assert len(EQUAL) + len(DIFFERENT) >= 60


@pytest.mark.parametrize(("gold", "answer"), EQUAL)
def test_equivalent_answers(grader: MathGrader, gold: str, answer: str) -> None:
    assert grader.equal(gold, answer)


@pytest.mark.parametrize(("gold", "answer"), DIFFERENT)
def test_different_answers(grader: MathGrader, gold: str, answer: str) -> None:
    assert not grader.equal(gold, answer)


def test_no_answer_is_wrong(grader: MathGrader) -> None:
    assert not grader.equal("5", None)


def test_a_grading_worker_that_dies_is_replaced_and_the_run_goes_on() -> None:
    """A batch run once ended on BrokenProcessPool when the worker died between two comparisons."""
    grader = MathGrader()
    try:
        assert grader.equal("12", "12")
        for process in list(grader._pool._processes.values()):  # type: ignore[union-attr]
            process.kill()
            process.join()
        assert grader.equal("12", "12") and not grader.equal("12", "13")
    finally:
        grader.close()


def test_the_workers_start_is_not_charged_to_the_first_comparison() -> None:
    """On a loaded machine the worker's spawn and import outlasted the comparison limit, and a right
    answer ('5' for '5') was graded wrong; a limit shorter than the start shows it here."""
    grader = MathGrader(timeout=0.5)
    try:
        assert grader.equal("5", "5") and grader.equal("5", "5.0") and not grader.equal("5", "6")
    finally:
        grader.close()


def test_a_worker_that_does_not_start_is_a_grading_failure_not_a_wrong_answer() -> None:
    grader = MathGrader(start_timeout=0.01)
    with pytest.raises(GradingError, match="did not start"):
        grader.equal("5", "5")
    grader.close()


def test_a_worker_that_dies_while_starting_says_so(tmp_path: Path) -> None:
    """A script piped to `python -` cannot be re-imported by a spawned worker, which dies at once: the
    error says it died, not that it ran out of time."""
    script = "from xolver.tools.grading import MathGrader\nMathGrader().equal('5', '5')\n"
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, cwd=tmp_path)
    assert "GradingError: the math grading worker died while starting" in done.stderr


def test_a_worker_that_dies_twice_is_a_grading_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    grader = MathGrader()

    def dies(gold: str, answer: str) -> bool:
        raise concurrent.futures.process.BrokenProcessPool("killed")

    monkeypatch.setattr(grader, "_compare", dies)
    with pytest.raises(GradingError, match="died twice"):
        grader.equal("5", "5")


@pytest.mark.parametrize(("name", "size"), list(BUILTIN_SIZES.items()))
def test_builtin_sets_load_with_their_sizes(name: str, size: int) -> None:
    problems, bad = load_problems(name)
    assert len(problems) == size and bad == [] and len({p.id for p in problems}) == size


@pytest.mark.slow
@pytest.mark.parametrize("name", ["aime24", "aime25", "math500", "gsm8k"])
def test_every_gold_answer_grades_equal_to_itself(grader: MathGrader, name: str) -> None:
    problems, _ = load_problems(name)
    assert [p.id for p in problems if not grader.equal(p.answer, p.answer)] == []


def test_public_formats(tmp_path: Path) -> None:
    private = base64.b64encode(
        zlib.compress(pickle.dumps(json.dumps([{"input": "3\n", "output": "9\n", "testtype": "stdin"}])))
    ).decode()
    lines = [
        {"question": "Tom has 3 apples and buys 1,000 more. How many?", "answer": "3 + 1000 = 1003\n#### 1,003"},
        {"problem": "Find $x$.", "answer": "\\frac{1}{2}", "solution": "...", "unique_id": "test/algebra/1.json"},
        {"id": 7, "problem": "AIME: find n.", "answer": 204},
        {"question_id": "abc123", "question_content": "Square a number.", "platform": "atcoder",
         "public_test_cases": json.dumps([{"input": "2\n", "output": "4\n", "testtype": "stdin"}]),
         "private_test_cases": private, "starter_code": "", "metadata": "{}"},
        {"question_id": "lc1", "question_content": "Add two numbers.", "starter_code": "class Solution:\n    def add(self, a, b):",
         "public_test_cases": json.dumps([{"input": "1\n2", "output": "3", "testtype": "functional"}]),
         "metadata": json.dumps({"func_name": "add"})},
    ]  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    problems, bad = load_problems(path)
    assert bad == []
    gsm, math500, aime, stdin_code, functional = problems
    assert gsm.answer == "1003" and math500.id == "test/algebra/1.json" and math500.metadata["solution"] == "..."
    assert aime.id == "7" and aime.answer == "204"
    assert stdin_code.kind == "code" and [(t.input, t.output, t.hidden) for t in stdin_code.tests] == [
        ("2\n", "4\n", False),
        ("3\n", "9\n", True),
    ]
    assert functional.tests[0].call == "Solution().add(1, 2)" and functional.tests[0].expected == "3"


def test_a_pickle_that_would_run_code_is_refused() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    blob = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        decode_private_tests(blob)


async def test_code_grading_with_livecodebench_semantics(tmp_path: Path) -> None:
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps({"question_id": "lc1", "question_content": "Add.", "metadata": json.dumps({"func_name": "add"}),
                                "public_test_cases": json.dumps([{"input": "1\n2", "output": "3", "testtype": "functional"},
                                                                 {"input": "[1]\n[2]", "output": "[1, 2]", "testtype": "functional"}])}) + "\n")  # fmt: skip
    (problem,), _ = load_problems(path)
    box = ProcessSandbox()
    assert await grade_code(box, "class Solution:\n    def add(self, a, b):\n        return a + b\n", problem)
    assert not await grade_code(box, "class Solution:\n    def add(self, a, b):\n        return a - b\n", problem)
    assert not await grade_code(box, None, problem)
