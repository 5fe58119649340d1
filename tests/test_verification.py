""" "Verified" means a tool confirmed the answer: the cases where a weaker rule wrote wrong experience to
memory, each now refused, and the rule itself."""

from __future__ import annotations

import itertools

import pytest
from helpers import make_xolver, planner_reply

from xolver import InMemoryExperienceStore, Problem, TestCase
from xolver.llm.base import ModelRequest
from xolver.llm.testing import ScriptedModel, scripted_team
from xolver.sandbox import ProcessSandbox
from xolver.schema import Evidence
from xolver.team.evidence import confidence, evidence_rule, judge_rule

PENS = "A shop sells pens at 3 for 2 dollars. How much do 12 pens cost?"
CHECK = "Write a short Python program that solves this problem on its own"
PENS_PROGRAM = "pens, price_per_3 = 12, 2\nprint(pens / 3 * price_per_3)"


@pytest.fixture(scope="module")
def box() -> ProcessSandbox:
    return ProcessSandbox()


def kinds(result) -> dict[str, bool | None]:
    return {e.kind: e.passed for e in result.verification.evidence}


async def test_two_agreeing_candidates_and_full_marks_do_not_verify_a_wrong_answer(box: ProcessSandbox) -> None:
    """The chat case: 42 from every solver (each in its own words, so they agree), full marks from the judge;
    an independent program says 8."""
    said = itertools.count(1)
    model = scripted_team(
        planner=planner_reply, solver=lambda r: f"Way {next(said)}: 12 pens cost 42 dollars. \\boxed{{42}}",
        judge="Correct.\nScore: 1",
        verifier=lambda r: f"```python\n{PENS_PROGRAM}\n```" if CHECK in r.prompt else "",
    )  # fmt: skip
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, box, memory=True).asolve(PENS)
    assert result.answer == "42" and not result.verified
    assert kinds(result).items() >= {"judge": True, "agreement": True, "independent_check": False}.items()
    assert store.experiences == {} and result.memory_writes == []
    assert judge_rule("math", result.verification.evidence), "the old rule would have verified it"


async def test_agreement_and_the_judge_alone_never_verify(box: ProcessSandbox) -> None:
    """No tool evidence at all (the verifier writes no program; or there is no sandbox): not verified."""
    model = scripted_team(planner=planner_reply, solver="\\boxed{8}", judge="Score: 1", verifier="It is 8.")
    for sandbox in (box, None):
        result = await make_xolver(model, InMemoryExperienceStore(), sandbox).asolve(PENS)
        assert result.answer == "8" and not result.verified and result.verification.method == "judge"
        assert kinds(result)["independent_check"] is None


async def test_a_candidate_whose_program_failed_is_never_verified(box: ProcessSandbox) -> None:
    """The batch case: the solver's program stopped with a SyntaxError; its stated answer happens to be right."""
    model = scripted_team(
        planner=planner_reply,
        solver="```python\npens = 12\nprint(pens / 3 * 2\n```\nSo the answer is \\boxed{8}.",
        judge="Score: 1",
        verifier=lambda r: "```python\nprint(12 / 3 * 2)\n```" if CHECK in r.prompt else "\\boxed{8}",
    )
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, box).asolve(PENS)
    candidate = result.iterations[0].candidates[0]
    assert "SyntaxError" in candidate.tool_calls[0].output and not candidate.tool_calls[0].ok
    assert kinds(result)["own_program"] is False and kinds(result)["independent_check"] is True
    assert not result.verified and store.experiences == {}


@pytest.mark.parametrize(
    "reply",
    [  # seen from the embedded model: a function defined and never called, its last line taken as the answer
        "```python\ndef solve():\n    pens = 12\n    answer = pens / 3 * 2\n```",
        # a crashed program whose source holds the right number
        "```python\nprint(int(input()) * 8)\n```",
    ],
)
async def test_a_number_in_a_program_that_computed_nothing_is_not_its_answer(box: ProcessSandbox, reply: str) -> None:
    model = scripted_team(
        planner=planner_reply, solver=reply, judge="Score: 1",
        verifier=lambda r: "```python\nprint(12 / 3 * 2)\n```" if CHECK in r.prompt else "\\boxed{8}",
    )  # fmt: skip
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, box).asolve(PENS)
    assert {c.answer for c in result.iterations[0].candidates} == {None}
    assert not result.verified and store.experiences == {}


async def test_a_server_that_answers_42_to_everything_verifies_nothing(box: ProcessSandbox) -> None:
    model = ScriptedModel(lambda r: "42")
    store = InMemoryExperienceStore()
    team = make_xolver(model, store, box, iterations=2)
    results = await team.asolve_many([PENS, "What is 6 times 7?", "What is 40 plus 2?"])
    assert [r.answer for r in results] == ["42", "42", "42"]
    assert not any(r.verified for r in results) and store.experiences == {}


async def test_a_right_answer_confirmed_by_an_independent_program_is_verified_and_says_why(box: ProcessSandbox) -> None:
    programs = itertools.cycle(["print(12 // 3 * 2)", "print(2 * 12 // 3)", "pens = 12\nprint(pens // 3 * 2)"])
    model = scripted_team(
        planner=planner_reply, solver=lambda r: f"```python\n{next(programs)}\n```", judge="Score: 1",
        verifier=lambda r: "```python\ngroups = 12 / 3\nprint(groups * 2)\n```" if CHECK in r.prompt else "",
    )  # fmt: skip
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, box).asolve(PENS)
    assert result.answer == "8" and result.verified and result.verification.method == "tools"
    assert result.verification.confidence == 1.0
    solution = next(e for e in store.experiences.values() if e.kind == "solution")
    assert solution.confidence == 1.0 and "independent_check an independent program printed 8.0" in solution.evidence


@pytest.mark.parametrize(
    ("check_prints", "verified"),
    [('f"The total cost is {12 / 3 * 2} dollars."', True), ('f"The total cost is {12 * 3 * 2 + 8} dollars."', False)],
)
async def test_an_independent_program_that_prints_a_sentence_is_read_as_a_candidates_program_is(
    box: ProcessSandbox, check_prints: str, verified: bool
) -> None:
    """Seen from the embedded model: the check printed `The final answer is: 120` and was set aside as unreadable."""
    model = scripted_team(
        planner=planner_reply, solver="```python\nprint(12 // 3 * 2)\n```", judge="Score: 1",
        verifier=lambda r: f"```python\nprint({check_prints})\n```" if CHECK in r.prompt else "",
    )  # fmt: skip
    result = await make_xolver(model, InMemoryExperienceStore(), box).asolve(PENS)
    assert result.answer == "8" and result.verified is verified and kinds(result)["independent_check"] is verified


@pytest.mark.parametrize(
    ("solver", "check", "why"),
    [("print(12 // 3 * 2)", "print(8)", "uses none of the problem's numbers"),
     ("print(12 // 3 * 2)", "print(min(8, 12 * 3))", "prints the same value when the problem's numbers change"),
     ("print(8)", "print(12 / 3 * 2)", "its program uses none of the problem's numbers"),
     ("print(12 // 3 * 2)", "print(12 - 2 * 2)", "with the problem's numbers moved it printed")],
)  # fmt: skip
async def test_a_program_that_states_or_happens_on_the_answer_is_no_evidence(
    box: ProcessSandbox, solver: str, check: str, why: str
) -> None:
    """A literal, a constant behind the problem's numbers, an answer's own `print(8)`, a check that meets the
    answer by coincidence (12 - 2 * 2 is 8 too, but not 12 // 3 * 2 once the numbers move): none verifies."""
    model = scripted_team(
        planner=planner_reply, solver=f"```python\n{solver}\n```", judge="Score: 1",
        verifier=lambda r: f"```python\n{check}\n```" if CHECK in r.prompt else "",
    )  # fmt: skip
    store = InMemoryExperienceStore()
    result = await make_xolver(model, store, box).asolve(PENS)
    assert result.answer == "8" and not result.verified and store.experiences == {}
    assert why in result.verification.detail


SUM = Problem(
    text="Read integers on one line and print their sum.", kind="code",
    tests=[TestCase(input="1 2 3\n", output="6\n"), TestCase(input="10 -4\n", output="6\n")],
)  # fmt: skip
FITTED = "```python\nline = input().strip()\nprint({'1 2 3': 6, '10 -4': 6}.get(line, 0))\n```"
UNSEEN = "\n".join(
    [
        '{"input": "5 5\\n", "output": "10\\n"}',
        '{"input": "7\\n", "output": "7\\n"}',
        '{"input": "1 2 3\\n", "output": "6\\n"}',
    ]
)


def coding_team(program: str):
    return scripted_team(
        planner=planner_reply, coder=program, judge=lambda r: UNSEEN if "NEW tests" in r.prompt else "Score: 1"
    )


async def test_a_program_fitted_to_the_examples_it_was_shown_is_not_verified(box: ProcessSandbox) -> None:
    store = InMemoryExperienceStore()
    result = await make_xolver(coding_team(FITTED), store, box, agents=1, iterations=1).asolve(SUM)
    evidence = {e.kind: e for e in result.verification.evidence}
    assert evidence["tests"].passed and evidence["tests"].detail == "2/2"
    assert evidence["unseen_tests"].passed is False and evidence["unseen_tests"].detail.startswith("0/2")
    assert not result.verified and store.experiences == {}, "a fitted program never becomes a verified fragment"


async def test_the_same_check_verifies_an_honest_program(box: ProcessSandbox) -> None:
    honest = "```python\nprint(sum(map(int, input().split())))\n```"
    store = InMemoryExperienceStore()
    result = await make_xolver(coding_team(honest), store, box, agents=1, iterations=1).asolve(SUM)
    assert result.verified and result.verification.method == "tests"
    fragment = next(e for e in store.experiences.values() if e.kind == "code_fragment")
    assert fragment.verified and fragment.evidence[:2] == ["tests 2/2", "unseen_tests 2/2 written after the solve"]


async def test_no_unseen_test_means_no_verification(box: ProcessSandbox) -> None:
    """A judge that cannot write a new test (or repeats the shown ones) leaves the program unverified."""
    honest = "```python\nprint(sum(map(int, input().split())))\n```"

    def judge(request: ModelRequest) -> str:
        return '{"input": "1 2 3\\n", "output": "6\\n"}\nno more ideas' if "NEW tests" in request.prompt else "Score: 1"

    model = scripted_team(planner=planner_reply, coder=honest, judge=judge)
    result = await make_xolver(model, None, box, agents=1, iterations=1).asolve(SUM)
    assert not result.verified and {e.kind: e.passed for e in result.verification.evidence}["unseen_tests"] is None


def ev(kind: str, passed: bool | None) -> Evidence:
    return Evidence(kind=kind, passed=passed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("task", "evidence", "verified"),
    [
        ("math", [ev("independent_check", True), ev("judge", True)], True),
        ("math", [ev("independent_check", True), ev("agreement", True), ev("judge", False)], True),
        ("math", [ev("independent_check", True), ev("judge", False), ev("agreement", False)], False),
        ("math", [ev("own_program", False), ev("independent_check", True), ev("judge", True)], False),
        ("math", [ev("independent_check", None), ev("judge", True), ev("agreement", True)], False),
        ("code", [ev("tests", True), ev("unseen_tests", True)], True),
        ("code", [ev("tests", None), ev("unseen_tests", True)], True),  # HumanEval: no visible tests
        ("code", [ev("tests", True), ev("unseen_tests", None)], False),
        ("code", [ev("tests", False), ev("unseen_tests", True)], False),
        ("general", [ev("judge", True), ev("agreement", True), ev("self_certainty", None)], True),
        ("general", [ev("judge", True), ev("agreement", True), ev("self_certainty", False)], False),
    ],
)
def test_the_evidence_rule(task: str, evidence: list[Evidence], verified: bool) -> None:
    assert evidence_rule(task, evidence) is verified  # type: ignore[arg-type]


def test_confidence_weighs_tools_above_opinions() -> None:
    assert confidence([ev("independent_check", True), ev("judge", False)]) == 0.75
    assert confidence([ev("independent_check", False), ev("judge", True)]) == 0.25
    assert confidence([ev("independent_check", None)]) == 0.0


def test_verified_precision_and_recall_are_reported_per_method() -> None:
    from xolver.bench.report import render_markdown, summarize
    from xolver.bench.runner import BenchRecord
    from xolver.schema import Settings, Verification

    def record(i: int, correct: bool, verified: bool, judge_says: bool) -> BenchRecord:
        evidence = [ev("judge", judge_says), ev("agreement", judge_says), ev("independent_check", verified)]
        verification = Verification(method="tools", passed=verified, evidence=evidence)
        return BenchRecord(
            id=f"q{i}", method="xolver", status="graded", correct=correct, answer="1", verified=verified,
            verification=verification, seconds=1.0, config=Settings().run_config({"solver": "m"}),
        )  # fmt: skip

    records = [record(0, True, True, True), record(1, True, False, True), record(2, False, False, True),
               record(3, False, True, False), record(4, True, True, True)]  # fmt: skip
    (s,) = summarize(records)
    assert (s.verified, s.verified_precision, s.verified_recall) == (3, 2 / 3, 2 / 3)
    assert (s.judge_rule_verified, s.judge_rule_precision) == (4, 3 / 4)
    assert "| xolver (learn) | 3 | 66.7% | 66.7% | 4 | 75.0% |" in render_markdown([s])


def test_certainty_is_the_mean_token_probability() -> None:
    import math
    from types import SimpleNamespace

    from xolver.llm.litellm_model import read_response

    tokens = [SimpleNamespace(logprob=math.log(p)) for p in (0.9, 0.5, 0.7)]
    choice = SimpleNamespace(message=SimpleNamespace(content="8", reasoning_content=None), finish_reason="stop",
                             logprobs=SimpleNamespace(content=tokens))  # fmt: skip
    reply = read_response(SimpleNamespace(choices=[choice], usage=None), "m")
    assert reply.certainty is not None and abs(reply.certainty - 0.7) < 1e-9
