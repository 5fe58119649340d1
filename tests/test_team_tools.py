"""The team with a sandbox: code judged by its tests, a crash repaired, Python output as the answer,
passing code learned as a fragment."""

from __future__ import annotations

import contextlib
import io

import pytest
from helpers import make_xolver, planner_reply

from xolver import InMemoryExperienceStore, Problem, TestCase
from xolver.llm.base import ModelRequest
from xolver.llm.testing import scripted_team
from xolver.sandbox import ExecResult, ProcessSandbox
from xolver.sandbox.testing import ScriptedSandbox

SUM_PROBLEM = Problem(
    text="Read integers from one line and print their sum.",
    kind="code",
    tests=[TestCase(input="1 2 3", output="6"), TestCase(input="5 5", output="10"), TestCase(input="7", output="7")],
)
GOOD = "```python\nprint(sum(map(int, input().split())))\n```"
CRASHES = "```python\nprint(sum(map(int, input().split(','))))\n```"  # splits on commas: crashes on '1 2 3'


def UNSEEN(request: ModelRequest) -> str:
    """The judge; asked after the solve, it writes tests the team never saw (the third repeats a shown one)."""
    if "NEW tests" in request.prompt:
        return '{"input": "4 4", "output": "8"}\n{"input": "0", "output": "0"}\n{"input": "1 2 3", "output": "6"}'
    return "Score: 1"


@pytest.fixture(scope="module")
def box() -> ProcessSandbox:
    return ProcessSandbox()


async def test_code_is_judged_by_its_tests_without_asking_the_judge_model(box: ProcessSandbox) -> None:
    def coder(request: ModelRequest) -> str:
        return GOOD if "Sum expert" in request.prompt else "```python\nprint(6)\n```"

    planner = lambda r: "1, 2" if "Candidate roles" in r.prompt else "Sum expert: sums\nGuesser: guesses\nThird: x"  # noqa: E731
    model = scripted_team(planner=planner, coder=coder, judge=UNSEEN, verifier="Sum every integer on the line.")
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, box, agents=2, iterations=1).asolve(SUM_PROBLEM)

    judgements = {c.role: c.judgement for c in result.iterations[0].candidates}
    assert judgements["Sum expert"].judge == "tests" and judgements["Sum expert"].score == 1.0
    assert (judgements["Guesser"].passed, judgements["Guesser"].total) == (1, 3)
    assert "1 of 3 tests pass" in judgements["Guesser"].rationale
    assert [r.role for r in model.requests if r.role == "judge"] == ["judge"], "only to write the unseen tests"
    assert result.verified and result.verification.method == "tests"
    evidence = {e.kind: e for e in result.verification.evidence}
    assert evidence["tests"].detail == "3/3" and evidence["unseen_tests"].passed
    assert evidence["unseen_tests"].detail == "2/2 written after the solve"
    assert result.answer == "print(sum(map(int, input().split())))"
    kinds = sorted(store.experiences[i].kind for i in result.memory_writes)
    assert kinds == ["code_fragment", "solution", "strategy"]
    fragment = next(store.experiences[i] for i in result.memory_writes if store.experiences[i].kind == "code_fragment")
    assert fragment.content == result.answer and fragment.verified
    assert fragment.evidence[:2] == ["tests 3/3", "unseen_tests 2/2 written after the solve"]


async def test_a_program_that_crashes_on_the_sample_is_repaired_once(box: ProcessSandbox) -> None:
    def coder(request: ModelRequest) -> str:
        return GOOD if "failed on the sample input" in request.prompt else CRASHES

    model = scripted_team(planner=planner_reply, coder=coder, judge=UNSEEN)
    result = await make_xolver(model, None, box, agents=1, iterations=1).asolve(SUM_PROBLEM)
    candidate = result.iterations[0].candidates[0]
    assert candidate.tool_calls[0].tool == "python" and not candidate.tool_calls[0].ok
    assert "ValueError" in candidate.tool_calls[0].output
    assert candidate.code == "print(sum(map(int, input().split())))"
    assert candidate.judgement.score == 1.0 and result.verified


async def test_a_failing_program_is_verified_false() -> None:
    sandbox = ScriptedSandbox(lambda code, stdin: ExecResult(stderr="boom", exit_code=1, backend="scripted"))
    model = scripted_team(planner=planner_reply, coder=GOOD, judge="Score: 1")
    result = await make_xolver(model, None, sandbox, agents=1, iterations=1).asolve(SUM_PROBLEM)
    assert result.iterations[0].candidates[0].judgement.score == 0.0
    assert not result.verified and result.verification.method == "tests"


def _run(code: str, stdin: str | None) -> str:
    """These tests' own programs, run here: arithmetic and print only."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})
    return out.getvalue()


async def test_python_in_a_math_answer_is_run_and_its_output_is_the_answer() -> None:
    sandbox = ScriptedSandbox(_run)
    model = scripted_team(
        planner=planner_reply,
        solver="Compute it:\n```python\nprint(347 * 29)\n```\nSo the answer is \\boxed{9999}.",
        judge="Score: 1",
        verifier="```python\na, b = 347, 29\nprint(a * b)\n```",
    )
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, sandbox, iterations=1).asolve("What is 347 times 29?")
    candidate = result.iterations[0].candidates[0]
    assert candidate.answer == "10063" and "[program output]\n10063" in candidate.reasoning
    assert sandbox.runs[0][0] == "print(347 * 29)"
    assert result.answer == "10063"
    fragments = [e for e in store.experiences.values() if e.kind == "code_fragment"]
    assert [f.content for f in fragments] == ["value = 347\nvalue_2 = 29\nprint(value * value_2)"]
