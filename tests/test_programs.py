"""Math through programs: the answer a program printed, a solved program kept with its numbers named,
and the answer chosen by what the candidates' programs print."""

from __future__ import annotations

import pytest
from helpers import make_xolver, planner_reply

from xolver import InMemoryExperienceStore
from xolver.llm.testing import scripted_team
from xolver.sandbox import ProcessSandbox
from xolver.schema import Candidate, Judgement, ToolCall
from xolver.team.programs import REPAIRED_NOTE, answer_from_output, lift_numbers, repair_stated_results
from xolver.team.shared import SharedMemory


@pytest.mark.parametrize(
    ("output", "answer"),
    [("8\n", "8"), ("Speed: 40.000 km/h", "40.000"), ("The answer is 1,200 dollars", "1200"),
     ("12\n\n", "12"), ("", None), ("no number here", "no number here"), ("3/4", "3/4"),
     ("2*sqrt(3)", "2*sqrt(3)"), ("x^2 + 1", "x^2 + 1"), ("\\frac{1}{2}", "\\frac{1}{2}"),
     ("The final answer is: 120", "120"), ("3 + 4 = 7", "7")],
)  # fmt: skip
def test_the_answer_is_what_the_program_printed_last(output: str, answer: str | None) -> None:
    assert answer_from_output(output) == answer


def test_numbers_of_the_problem_move_into_named_variables_at_the_top() -> None:
    lifted = lift_numbers("print(12 / 3 * 2)", "A shop sells pens at 3 for 2 dollars. How much do 12 pens cost?")
    assert lifted.splitlines()[:3] == ["pens = 12", "pens_2 = 3", "dollars = 2"]
    namespace: dict[str, object] = {}
    exec(lifted.replace("print(", "result = ("), namespace)  # the lifted program computes the same value
    assert namespace["result"] == 8.0
    sibling = lifted.replace("pens = 12", "pens = 30")  # the next problem of the kind: change a line
    exec(sibling.replace("print(", "result = ("), namespace)
    assert namespace["result"] == 20.0


def test_a_program_that_names_its_quantities_or_does_not_parse_is_kept_as_it_is() -> None:
    named = "boxes = 6\napples = 9\nprint(boxes * apples)"
    assert lift_numbers(named, "There are 6 boxes with 9 apples in each box.") == named
    assert lift_numbers("print(6 *", "6 boxes") == "print(6 *"


def candidate(answer: str, *, program: bool | None, score: float | None, iteration: int = 0) -> Candidate:
    output = answer if program else "Traceback ..."
    calls = [] if program is None else [ToolCall(tool="python", arguments={"code": "..."}, ok=program, output=output)]
    judgement = (
        Judgement(candidate_id="x", status="scored", score=score)
        if score is not None
        else Judgement(candidate_id="x", status="unparsed")
    )
    return Candidate(role="r", agent=0, iteration=iteration, answer=answer, tool_calls=calls, judgement=judgement)


def test_the_answer_most_programs_print_beats_a_judge_of_the_same_size() -> None:
    shared = SharedMemory(2)
    shared.update([candidate("42", program=None, score=1.0), candidate("8", program=True, score=0.2),
                   candidate("8", program=True, score=None)])  # fmt: skip
    assert shared.best is not None and shared.best.answer == "8"
    shared.update(
        [candidate("42", program=False, score=1.0, iteration=1), candidate("8", program=True, score=0.5, iteration=1)]
    )
    assert shared.best.answer == "8"  # its first candidate: the judge orders no candidate, not even within an answer


def test_a_program_that_printed_nothing_does_not_vote_for_the_answer_beside_it() -> None:
    silent = candidate("42", program=True, score=1.0).model_copy(
        update={"tool_calls": [ToolCall(tool="python", arguments={"code": "def f(): ..."}, ok=True, output="")]}
    )
    shared = SharedMemory(2)
    shared.update([silent, silent.model_copy(update={"id": "b"}), candidate("8", program=True, score=0.2)])
    assert shared.best is not None and shared.best.answer == "8"


def test_code_candidates_still_rank_by_their_tests() -> None:
    shared = SharedMemory(2, by_tests=True)
    shared.update([candidate("a", program=None, score=1.0), candidate("b", program=True, score=0.5),
                   candidate("b", program=True, score=0.5)])  # fmt: skip
    assert shared.best is not None and shared.best.answer == "a"


@pytest.mark.parametrize(
    ("program", "repaired"),
    [  # as the embedded model wrote them on the family set
        ("total_score = 82 + 90 + 74 = 316\naverage_score = total_score / 3\nprint(average_score)",
         "total_score = 82 + 90 + 74\naverage_score = total_score / 3\nprint(average_score)"),
        ("total_temperature = 7 + 11 + 12 + 14 = 50 degrees\nprint(total_temperature / 4)",
         "total_temperature = 7 + 11 + 12 + 14\nprint(total_temperature / 4)"),
        ("for day in range(2):\n    x = day * 2 = 4\n    print(x)",
         "for day in range(2):\n    x = day * 2\n    print(x)"),
        ("a = 3 = 4 = 5\nprint(a)", "a = 3\nprint(a)"),
        ("x = y = 2\nprint(x + y)", "x = y = 2\nprint(x + y)"),  # a chained assignment parses: left alone
        ("Ben = 8\nIn 3 years, Ben will be 1.2 * 6 = 7.4 years old.\nprint(Ben)", None),  # prose is no result
        ("print(1 +)", None),
        ("x = 4 = y\nprint(x)", None),  # what follows `=` is no number
    ],
)  # fmt: skip
def test_results_the_model_wrote_after_an_expression_are_dropped_so_python_computes_them(
    program: str, repaired: str | None
) -> None:
    assert repair_stated_results(program) == repaired


async def test_a_program_repaired_this_way_is_run_and_says_so() -> None:
    program = "total_score = 82 + 90 + 74 = 316\nprint(total_score / 3)"
    model = scripted_team(planner=planner_reply, solver=f"```python\n{program}\n```", judge="Score: 1",
                          verifier="")  # fmt: skip
    result = await make_xolver(model, InMemoryExperienceStore(), ProcessSandbox(), iterations=1, analogy=False).asolve(
        "Jo scored 82, 90 and 74 on three tests. What was her average score?"
    )
    candidate = result.iterations[0].candidates[0]
    assert candidate.answer == "82.0" and result.answer == "82.0"
    assert REPAIRED_NOTE in candidate.reasoning and "= 316" in candidate.reasoning, "what the model wrote is kept"
    assert candidate.tool_calls[0].arguments["code"].startswith("total_score = 82 + 90 + 74\n")
