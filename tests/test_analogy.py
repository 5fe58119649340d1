"""A solved sibling's program rebound to a new problem's numbers, and a vote that counts a program once:
the cases that would fool them are refused."""

from __future__ import annotations

import pytest
from helpers import CHECK_PROMPT, make_xolver, planner_reply

from xolver import InMemoryExperienceStore
from xolver.llm.base import ModelRequest
from xolver.llm.testing import scripted_team
from xolver.profiles import EMBEDDED, GENERAL
from xolver.sandbox import ProcessSandbox
from xolver.schema import Candidate, Experience, Judgement, Problem, ToolCall
from xolver.team.analogy import adapt, computes_from, copied_from, numbers
from xolver.team.decision import votes
from xolver.team.shared import SharedMemory
from xolver.team.solver import analogies

TRAIN = "A train covers 180 km in 3 hours at a steady pace. What is its speed in km per hour?"
TRAIN_PROGRAM = "distance_km = 180\nhours = 3\nprint(distance_km / hours)"
TRUCK = "In 5 hours a truck drives 350 km. At what average speed, in km/h, was it driving?"


def test_numbers_are_matched_by_what_they_measure_not_by_the_order_they_come_in() -> None:
    program = adapt(TRAIN_PROGRAM, TRAIN, TRUCK)
    assert program == "distance_km = 350\nhours = 5\nprint(distance_km / hours)"


def test_numbers_in_words_are_numbers_and_a_constant_the_problem_does_not_state_is_kept() -> None:
    mugs = "Seven identical mugs cost 28 dollars. What do 3 of these mugs cost in dollars?"
    program = "mugs_bought = 7\ntotal_cost = 28\nmugs_wanted = 3\nprint(total_cost / mugs_bought * mugs_wanted)"
    cups = "Five cups cost 15 dollars. What do 4 of these cups cost in dollars?"
    assert adapt(program, mugs, cups) == (
        "mugs_bought = 5\ntotal_cost = 15\nmugs_wanted = 4\nprint(total_cost / mugs_bought * mugs_wanted)"
    )
    film = "A film lasts 2 hours and 10 minutes. How many minutes long is it?"
    minutes = "minutes_per_hour = 60\nhours = 2\nminutes = 10\nprint(hours * minutes_per_hour + minutes)"
    adapted = adapt(minutes, film, "A talk lasts 3 hours and 5 minutes. How many minutes long is it?")
    assert adapted is not None and adapted.splitlines()[:3] == ["minutes_per_hour = 60", "hours = 3", "minutes = 5"]
    assert [n.text for n in numbers("Three plants grew 15, 21 and 30 cm.")] == ["3", "15", "21", "30"]


def test_a_measure_named_by_its_noun_or_its_adjective_is_one_measure() -> None:
    """Seen on the embedded model's learning run: the verified `length 20 m and width 6 m` field was never
    rebound to the `14 inches tall and 11 inches wide` poster, no word being shared."""
    field = "Find the area of a rectangular field with length 20 m and width 6 m, in square metres."
    program = "length = 20\nwidth = 6\nprint(length * width)"
    poster = "A poster is 14 inches tall and 11 inches wide. What is its area in square inches?"
    assert adapt(program, field, poster) == "length = 14\nwidth = 11\nprint(length * width)"
    pool = "A pool is 3 metres deep, 8 metres long and 5 metres wide. How many cubic metres of water does it hold?"
    box = "A tank has a depth of 2 feet. It is 6 feet in length and 4 feet in width. What is its volume?"
    volume = "depth = 3\nlength = 8\nwidth = 5\nprint(depth * length * width)"
    assert adapt(volume, pool, box) == "depth = 2\nlength = 6\nwidth = 4\nprint(depth * length * width)"


@pytest.mark.parametrize(
    ("program", "solved", "new", "why"),
    [
        (TRAIN_PROGRAM, TRAIN, "A car drives 120 km in 2 hours and then 60 km more. How far did it go?",
         "a problem stating another count of numbers is not of the same kind"),
        ("hours = 3\nprint(180 / hours)", TRAIN, TRUCK, "180 is left in the computation: it would not change"),
        ("bags = 8\nper_bag = 8\nprint(bags * per_bag)", "8 bags hold 8 marbles each. How many marbles?",
         "6 bags hold 9 marbles each. How many marbles?", "which 8 is which cannot be told"),
        ("print(180 / 3)", TRAIN, TRUCK, "no named quantities to change"),
        ("distance_km = 180\nprint(distance_km /", TRAIN, TRUCK, "not a program"),
        ("speed = 60\nprint(speed * 2)", TRAIN, TRUCK, "no header value is a number of the solved problem"),
        ("meters = 3.5\ncentimeters_per_meter = 100\nprint(meters * centimeters_per_meter)",
         "A rope is 3.5 meters long. How many centimeters long is it?", "What is 3 doubled?",
         "one number each, and not a word in common: nothing says they are of a kind"),
        ("books = 40\npercent_novels = 25\nprint(books * percent_novels / 100)",
         "A shelf holds 40 books and 25% of them are novels. How many novels are there?",
         "Ana counts bolts in 29 crates, each with 347 bolts. How many bolts does Ana count?",
         "a percentage paired with a count, and by order alone"),
        ("km = 84\nhours = 4\nprint(km / hours)",
         "A cyclist rides 84 km in 4 hours at an even pace. How many km does she ride per hour?",
         "Ana counts bolts in 29 crates, each with 347 bolts. How many bolts does Ana count?",
         "two numbers each, paired by their order alone"),
        ("books = 640\npercent_novels = 15\nprint(books * percent_novels / 100)",
         "In a library of 640 books, 15% are novels. How many novels are there?",
         "Bo counts books in 29 shelves, each with 347 books. How many books does Bo count?",
         "a word in common ('books'), but 15% is no count of books"),
    ],
)  # fmt: skip
def test_a_program_that_cannot_be_rebound_faithfully_is_not_adapted(
    program: str, solved: str, new: str, why: str
) -> None:
    assert adapt(program, solved, new) is None, why


def test_only_verified_math_solves_with_a_program_are_adapted() -> None:
    records = [
        Experience(kind="solution", problem=TRAIN, content=f"Program:\n```python\n{TRAIN_PROGRAM}\n```", verified=True),
        Experience(kind="solution", problem="A cyclist rides 84 km in 4 hours. What is her speed in km per hour?",
                   content="```python\nkm = 84\nhours = 4\nprint(km / hours)\n```", verified=False),
    ]  # fmt: skip
    assert analogies(records, Problem(text=TRUCK)) == [
        ("distance_km = 350\nhours = 5\nprint(distance_km / hours)", TRAIN)
    ], "a recollection or an unverified solve is no pattern to follow"
    assert analogies(records, Problem(text=TRUCK, kind="code")) == []


def test_a_program_computing_with_an_examples_numbers_is_a_copy_and_one_needing_a_constant_is_not() -> None:
    """The copier liar kept the problem's 6 hours and the example's 45 km/h: one of each is a copy too."""
    assert copied_from(TRAIN_PROGRAM, TRUCK, [TRAIN]) == TRAIN
    assert copied_from("print(180 / 5)", TRUCK, [TRAIN]) == TRAIN, "the example's distance, the problem's hours"
    assert copied_from("print(350 / 5 + 0 * 180)", TRUCK, [TRAIN]) is None, "more of its own numbers"
    talk = "A talk lasts 3 hours and 5 minutes. How many minutes long is it?"
    film = "A film lasts 60 minutes. How many hours long is it?"
    assert copied_from("print(3 * 60 + 5)", talk, [film]) is None, "60 is the example's, 3 and 5 are the problem's"
    assert copied_from("print(350 / 5)", TRUCK, [TRAIN]) is None


def ran(code: str, output: str) -> list[ToolCall]:
    return [ToolCall(tool="python", arguments={"code": code}, output=output, ok=True)]


def candidate(agent: int, code: str, answer: str, score: float | None = None) -> Candidate:
    made = Candidate(role="solver", agent=agent, iteration=0, answer=answer, tool_calls=ran(code, answer))
    status = "scored" if score is not None else "unparsed"
    judgement = Judgement(candidate_id=made.id, judge="llm", status=status, score=score)
    return made.model_copy(update={"judgement": judgement})


def test_the_same_program_written_by_three_greedy_agents_is_one_vote_in_the_embedded_profile() -> None:
    """Seen on the embedded model: three greedy agents wrote `pack_cost = 9 * 30` under three names (270) and
    outvoted two different programs that printed 45. Sampled agents writing one program agree: three votes."""
    copies = [
        candidate(0, "pack_cost = 9 * 30\nprint(pack_cost)", "270", 1.0),
        candidate(1, "pack_to_dollar = 9 * 30  # the cost\n\nprint(pack_to_dollar)", "270", 1.0),
        candidate(2, "pack_to_dollar = 9 * 30\nprint( pack_to_dollar )", "270", 1.0),
    ]
    others = [
        candidate(3, "boxes = 30 / 6\nprint(boxes * 9)", "45", 1.0),
        candidate(4, "price = 9 / 6\nprint(price * 30)", "45"),
    ]
    assert votes(copies + others, EMBEDDED) == {"270": 1.0, "45": 2.0}
    shared = SharedMemory(3, profile=EMBEDDED)
    shared.update(copies + others)
    assert shared.best is not None and shared.best.answer == "45"
    assert votes(copies + others, GENERAL) == {"270": 3.0, "45": 2.0}
    general = SharedMemory(3)
    general.update(copies + others)
    assert general.best is not None and general.best.answer == "270"


@pytest.fixture(scope="module")
def box() -> ProcessSandbox:
    return ProcessSandbox()


SPEED_BANK = [
    Experience(kind="solution", problem=TRAIN, content=f"Program:\n```python\n{TRAIN_PROGRAM}\n```\nAnswer: 60",
               verified=True),
]  # fmt: skip


def copying_team(check: str):
    """Three agents that copy the sibling's program unchanged (it prints the sibling's 60), and a checker whose
    independent program prints `check`."""

    def verifier(request: ModelRequest) -> str:
        return f"```python\nprint({check})\n```" if CHECK_PROMPT in request.prompt else ""

    return scripted_team(planner=planner_reply, solver=f"```python\n{TRAIN_PROGRAM}\n```", judge="Score: 1",
                         verifier=verifier)  # fmt: skip


async def test_the_rebound_sibling_program_outvotes_agents_that_copied_it_and_is_verified_by_the_check(
    box: ProcessSandbox,
) -> None:
    store = InMemoryExperienceStore(SPEED_BANK)
    result = await make_xolver(copying_team("350 / 5"), store, box, iterations=1, exemplars=1).asolve(TRUCK)
    roles = [c.role for c in result.iterations[0].candidates]
    assert roles.count("analogy") == 1 and len(roles) == 4, "one extra candidate beside the m agents"
    assert result.answer == "70.0" and result.verified
    learned = next(e for e in store.experiences.values() if e.kind == "solution" and e.problem == TRUCK)
    assert "distance_km = 350" in learned.content, "the rebound program is what memory keeps"

    off = await make_xolver(copying_team("350 / 5"), InMemoryExperienceStore(SPEED_BANK), box, iterations=1,
                            exemplars=1, analogy=False).asolve(TRUCK)  # fmt: skip
    assert off.answer == "60.0" and not off.verified and "analogy" not in [c.role for c in off.iterations[0].candidates]


async def test_a_rebound_program_the_independent_check_disagrees_with_is_neither_verified_nor_learned(
    box: ProcessSandbox,
) -> None:
    """A sibling of the wrong kind (distance from speed and time) rebinds cleanly and prints a wrong number."""
    bus = "A bus drives at 45 km per hour for 6 hours. How many km does it drive?"
    store = InMemoryExperienceStore([
        Experience(kind="solution", problem=bus, verified=True,
                   content="```python\nspeed_kmh = 45\nhours = 6\nprint(speed_kmh * hours)\n```"),
    ])  # fmt: skip
    model = scripted_team(
        planner=planner_reply, solver="```python\nprint(45 * 6 + 1480)\n```", judge="Score: 1",
        verifier=lambda r: "```python\nprint(350 / 5)\n```" if CHECK_PROMPT in r.prompt else "",
    )  # fmt: skip
    result = await make_xolver(model, store, box, iterations=1, exemplars=1).asolve(TRUCK)
    analogy = next(c for c in result.iterations[0].candidates if c.role == "analogy")
    assert analogy.answer == "1750"
    assert result.answer == "1750" and not result.verified
    assert [e for e in store.experiences.values() if e.problem == TRUCK] == []


def rebound(agent: int, code: str, answer: str, score: float | None = None) -> Candidate:
    return candidate(agent, code, answer, score).model_copy(update={"role": "analogy"})


def test_in_the_embedded_profile_a_tied_vote_goes_to_the_analogy_of_the_best_retrieved_exemplar() -> None:
    pool = [
        candidate(0, "print(96 * 4)", "384", 1.0),
        rebound(3, "km = 96\nhours = 4\nprint(km / hours)", "24"),  # the judge's reply could not be read
        rebound(4, "speed = 96\nhours = 4\nprint(speed / hours / 16)", "1.5", 1.0),
    ]
    shared = SharedMemory(3, profile=EMBEDDED)
    shared.update(pool)
    assert shared.best is not None and shared.best.answer == "24"
    weighed = SharedMemory(3, profile=EMBEDDED, judge_weight=0.5)
    weighed.update(pool)
    assert weighed.best is not None and weighed.best.answer == "1.5", "a judge that counts breaks the tie"
    general = SharedMemory(3)
    general.update(pool)
    assert general.best is not None and general.best.answer in {"384", "1.5"}, "no tie goes to an analogy as such"


@pytest.mark.parametrize(
    ("configured", "profile", "judge_model", "weight"),
    [(None, "auto", "embedded/smollm2-135m-instruct", 0.0), (None, "auto", "openai/qwq-32b", 0.0),
     (0.25, "auto", "embedded/x", 0.25), (0.5, "embedded", "openai/qwq-32b", 0.5)],
)  # fmt: skip
def test_the_judge_has_no_say_in_the_vote_unless_it_is_given_one(
    configured: float | None, profile: str, judge_model: str, weight: float
) -> None:
    from xolver.schema import Settings

    assert Settings(judge_weight=configured, profile=profile).vote_judge_weight(judge_model) == weight


GARDEN = "A garden is a rectangle 12 metres long and 7 metres wide. What is its area in square metres?"
POSTER = "A poster is 14 inches long and 11 inches wide. What is its area in square inches?"


def prose_team(answer: str, check: str):
    """Agents that answer `answer` in prose, and a checker whose independent program is `check`."""
    return scripted_team(planner=planner_reply, solver=rf"\boxed{{{answer}}}", judge="Score: 1",
                         verifier=lambda r: f"```python\n{check}\n```" if CHECK_PROMPT in r.prompt else "")  # fmt: skip


async def test_a_verified_answer_without_a_program_keeps_the_checks_program_and_a_sibling_is_solved_by_it(
    box: ProcessSandbox,
) -> None:
    """Seen on the embedded model: three agents answered 120 in prose, the independent check printed 120 and
    verified it, and memory kept no program, so the next rectangle got no analogy."""
    check = "length = 12\nwidth = 7\nprint('The final answer is:', length * width)"
    store = InMemoryExperienceStore()
    first = await make_xolver(prose_team("84", check), store, box, iterations=1).asolve(GARDEN)
    assert first.answer == "84" and first.verified
    kept = [e for e in store.experiences.values() if e.kind == "code_fragment"]
    assert len(kept) == 1 and "length = 12" in kept[0].content, "the check's program, numbers named, is kept"

    sibling = await make_xolver(prose_team("25", "print(3)"), store, box, iterations=1, exemplars=1,
                                profile="embedded").asolve(POSTER)  # fmt: skip
    analogy = next(c for c in sibling.iterations[0].candidates if c.role == "analogy")
    assert analogy.answer == "154" and sibling.answer == "154", "embedded: prose counts half, a tie goes to it"
    assert not sibling.verified, "the sibling's own check disagreed: nothing is learned from it"
    general = await make_xolver(prose_team("25", "print(3)"), store, box, iterations=1, exemplars=1).asolve(POSTER)
    assert general.answer == "25", "three agents agreeing outvote one rebound program"


async def test_a_check_that_disagreed_leaves_no_program_in_memory(box: ProcessSandbox) -> None:
    store = InMemoryExperienceStore()
    result = await make_xolver(prose_team("84", "print(12 + 7)"), store, box, iterations=1).asolve(GARDEN)
    check = next(e for e in result.verification.evidence if e.kind == "independent_check")
    assert not result.verified and check.passed is False
    assert check.program == "print(12 + 7)", "the check's program is on the record"
    assert store.experiences == {}


async def test_a_check_that_prints_the_answer_as_a_literal_is_no_evidence(box: ProcessSandbox) -> None:
    """`print(84)` agrees with the answer, yet it computes nothing: a liar's check reads so too. It verified
    (and was only kept out of memory) before the check had to move with the problem's numbers."""
    store = InMemoryExperienceStore()
    result = await make_xolver(prose_team("84", "print(84)"), store, box, iterations=1).asolve(GARDEN)
    assert not result.verified and store.experiences == {}
    computed = await make_xolver(prose_team("84", "print(12 * 7)"), store, box, iterations=1).asolve(GARDEN)
    solution = next(e for e in store.experiences.values() if e.kind == "solution")
    assert computed.verified and "```python" in solution.content


def test_a_program_computes_from_a_problem_only_when_it_uses_one_of_its_numbers() -> None:
    assert computes_from("length = 12\nwidth = 7\nprint(length * width)", GARDEN)
    assert computes_from("print(12.0 * 7)", GARDEN)
    assert not computes_from("print(84)", GARDEN)
    assert not computes_from("print(12 *", GARDEN)
