"""The team's decision rule, held against simulated models of every skill (habit 13 of STYLE.md): an analogy
or any single candidate never outvotes a consensus of independent agents, a tie is broken by evidence, and
agreement copied from the shared memory counts less than agreement of independent samples."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from helpers import make_xolver

from xolver import InMemoryExperienceStore
from xolver.bench.datasets import load_problems
from xolver.llm.base import Message
from xolver.memory.jsonl import read_experiences
from xolver.profiles import EMBEDDED, GENERAL
from xolver.runtime import seed_banks
from xolver.sandbox import ProcessSandbox
from xolver.schema import Candidate, Judgement, ToolCall
from xolver.team.decision import ANALOGY, votes
from xolver.team.shared import SharedMemory
from xolver.team.simulated import CALLS, SimulatedModel, Skill, know, same
from xolver.team.templates import render

DEV = Path(__file__).parent / "data" / "sim_dev.jsonl"


def made(answer: str, *, agent: int = 0, program: bool = True, score: float | None = 1.0, role: str = "solver",
         iteration: int = 0, saw: tuple[str, ...] = (), code: str | None = None) -> Candidate:  # fmt: skip
    calls = [ToolCall(tool="python", arguments={"code": code or f"x = {agent}\nprint({answer})"}, output=answer)]
    c = Candidate(role=role, agent=agent, iteration=iteration, answer=answer, tool_calls=calls if program else [],
                  reasoning="" if program else f"so \\boxed{{{answer}}}", saw=list(saw))  # fmt: skip
    status = "scored" if score is not None else "unparsed"
    return c.model_copy(update={"judgement": Judgement(candidate_id=c.id, status=status, score=score)})


def decide(candidates: list[Candidate], profile=GENERAL, **kwargs: object) -> str | None:
    shared = SharedMemory(3, profile=profile, **kwargs)
    shared.update(candidates)
    return shared.best.answer if shared.best else None


@pytest.mark.parametrize("program", [True, False])
@pytest.mark.parametrize("agree", [2, 3])
@pytest.mark.parametrize("single_role", ["solver", ANALOGY])
@pytest.mark.parametrize(("consensus_score", "single_score"), [(0.0, 1.0), (None, 1.0), (1.0, 1.0)])
def test_no_single_candidate_outvotes_a_consensus_of_independent_agents(
    program: bool, agree: int, single_role: str, consensus_score: float | None, single_score: float
) -> None:
    """Whatever the judge said and whoever wrote it (an agent, a program rebound from memory), one candidate
    loses to two or more independent agents that agree, in prose or by programs."""
    consensus = [made("52725", agent=i, program=program, score=consensus_score) for i in range(agree)]
    single = made("369075", agent=agree, role=single_role, score=single_score)
    for order in itertools.permutations([*consensus, single]):
        assert decide(list(order)) == "52725"


def test_identical_programs_of_sampled_agents_are_independent_votes() -> None:
    """An always-right model sampled three times writes one program three times: three votes, not one."""
    same_program = "price = 75\nprint(price * 703)"
    consensus = [made("52725", agent=i, code=same_program) for i in range(3)]
    rebound = [made("369075", agent=3, role=ANALOGY), made("12", agent=4, role=ANALOGY)]
    assert votes([*consensus, *rebound], GENERAL)["52725"] == 3.0
    assert decide([*rebound, *consensus]) == "52725"
    assert decide([*rebound, *consensus], EMBEDDED) == "369075", "the embedded profile's greedy reading loses it"


def test_a_tie_is_broken_by_the_independent_check_then_a_program_never_by_the_judge_or_origin() -> None:
    """The judge is the team's own model: on the dev sets its score as a tie-break gained nothing with an
    informative judge and lost solves with an adversarial one, so a judge's 0.9 orders no tie."""
    agent, analogy = made("40", agent=0, score=0.2), made("44", agent=3, role=ANALOGY, score=0.9)
    shared = SharedMemory(3)
    shared.update([agent, analogy])
    assert shared.contenders() == ["40", "44"], "tied: the order they came in, not the judge's 0.9"
    shared.settle({"40": False, "44": True})
    assert shared.best is not None and shared.best.answer == "44", "the check's evidence decides"
    shared.settle({"40": None, "44": None})
    assert shared.best is not None and shared.best.answer == "40", "no check: neither the judge nor the origin"
    prose = made("44", agent=0, program=False, score=1.0)
    assert decide([prose, made("40", agent=1, score=0.0)]) == "40", "a program that printed it before prose"
    embedded = SharedMemory(3, profile=EMBEDDED)
    embedded.update([agent, made("44", agent=3, role=ANALOGY, score=None)])
    assert embedded.best is not None and embedded.best.answer == "44", "the embedded profile prefers analogies"


def test_an_agent_shown_the_teams_answers_is_no_independent_sample_whatever_it_answers() -> None:
    """Agreeing with the shared memory is copying; and counting only the later answers nobody showed would
    favour answers not yet found, mostly wrong ones once the right one was found."""
    first = [made("7", agent=0), made("9", agent=1), made("9", agent=2)]
    later = [made("7", agent=0, iteration=1, saw=("7", "9")), made("7", agent=1, iteration=1, saw=("7", "9")),
             made("8", agent=2, iteration=1, saw=("7", "9"))]  # fmt: skip
    weight = GENERAL.copy_weight
    assert votes(first + later, GENERAL) == {"7": 1.0 + 2 * weight, "9": 2.0, "8": weight}
    assert 0 < weight <= 0.5, "two agents copying 7 from the shared memory do not outvote two independent samples"
    shared = SharedMemory(3)
    shared.update(first)
    shared.update(later)
    shared.settle({"9": True, "7": False, "8": False})
    assert shared.best is not None and shared.best.answer == "9"


def test_a_failed_program_or_a_copy_of_an_examples_numbers_is_no_vote() -> None:
    failed = made("70", agent=0).model_copy(
        update={"tool_calls": [ToolCall(tool="python", arguments={"code": "1/0"}, output="", ok=False)]}
    )
    copy = made("60", agent=1).model_copy(update={"copied": "A train covers 180 km in 3 hours."})
    assert votes([failed, copy, made("75", agent=2)], GENERAL) == {"70": 0.0, "60": 0.0, "75": 1.0}


def test_every_call_the_simulated_model_recognises_is_still_a_phrase_of_its_prompt() -> None:
    """A template change must not silently turn, say, the judge's prompt into a solve for the simulations."""
    prompts = {
        "judge": render("judge", problem="P", solution="S"), "extract": render("verifier", problem="P", solution="S"),
        "check": render("check_program", problem="P"), "plan": render("planner", problem="P", n=5),
        "select": render("selector", problem="P", roles="1. A: a", m=3), "recall": render("recall", problem="P"),
        "strategy": render("strategy", problem="P", solution="S"),
        "tests": render("unseen_tests", problem="P", shown="", count=3, form=""),
        "verdict": render("refine_feedback", problem="P", solution="S"),
        "curate": render("cheatsheet_curate", sheet="", problem="P", solution="S", words=10),
        "direct": render("direct_math"),
    }  # fmt: skip
    assert {kind for kind, _ in CALLS} == set(prompts)
    for kind, phrase in CALLS:
        assert phrase in prompts[kind], kind
        assert next(k for k, p in CALLS if p in prompts[kind]) == kind, f"{kind} is read as an earlier kind"


def test_the_simulated_model_is_right_as_often_as_its_skill_and_its_wrong_answers_coincide() -> None:
    problems = load_problems(DEV)[0][:40]
    model = SimulatedModel(problems, Skill(p=0.6))
    right = wrong = 0
    seen_wrong: set[str] = set()
    for problem in problems:
        for agent in range(10):
            reply = model.answer([Message(role="user", content=f"Problem:\n{problem.text}\nAgent {agent}")])
            said = reply.rsplit("\\boxed{", 1)[1].rstrip("}.")
            if same(said, know(problem).answer):
                right += 1
            else:
                wrong += 1
                seen_wrong.add(f"{problem.id}:{said}")
    assert 0.5 < right / (right + wrong) < 0.7
    assert len(seen_wrong) <= 3 * len(problems), "wrong answers come from a few plausible ones per problem"


def seeded_store() -> InMemoryExperienceStore:
    return InMemoryExperienceStore([e for bank in seed_banks("default") for e in read_experiences(bank)[0]])


@pytest.fixture(scope="module")
def box() -> ProcessSandbox:
    return ProcessSandbox()


@pytest.mark.slow
@pytest.mark.parametrize("judge", ["uninformative", "adversarial"])
async def test_an_always_right_model_is_always_right_with_default_flags(judge: str, box: ProcessSandbox) -> None:
    """The first instance of every dev family, the starter banks in memory (their programs rebound as analogies),
    a judge that scores everything 1 or one that inverts the truth: every answer right."""
    problems = load_problems(DEV)[0][:12]
    model = SimulatedModel(problems, Skill(p=1.0, judge=judge))
    async with make_xolver(model, seeded_store(), box, recall=True) as team:
        results = await team.asolve_many(problems)
    assert [r.answer is not None and same(r.answer, p.answer) for r, p in zip(results, problems, strict=True)] == [
        True
    ] * len(problems)
    analogies = [c for r in results for it in r.iterations for c in it.candidates if c.role == ANALOGY]
    assert analogies, "the seed programs were rebound: the rule met them and did not follow them"


@pytest.mark.real_model
@pytest.mark.parametrize("mode", ["field", "inline", "inline-open-missing"])
async def test_an_always_right_thinker_under_a_name_that_says_nothing_is_always_right(
    mode: str, box: ProcessSandbox
) -> None:
    """Served over HTTP as `openai/my-model`, thinking 2,000 tokens before each answer in each of the three
    styles: every answer right and no call failed (a reply cut before its `</think>` is asked again with a
    thinker's budget)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))
    from fake_server import spawn

    from xolver import Xolver

    problems = load_problems(DEV)[0][:6]
    process, api_base = spawn(["--simulate", "p=1", "--problems", str(DEV), "--reasoning", mode,
                               "--thinking-tokens", "2000", "--rate", "200000", "--ttft", "0.01"])  # fmt: skip
    try:
        async with Xolver(model="openai/my-model", api_base=api_base, sandbox=box, store=seeded_store(),
                          memory="learn") as team:  # fmt: skip
            results = await team.asolve_many(problems)
    finally:
        process.terminate()
        process.wait()
    assert all(r.answer is not None and same(r.answer, p.answer) for r, p in zip(results, problems, strict=True))
    assert sum(r.usage.failed_calls for r in results) == 0
    assert all(r.usage.reasoning_tokens > 0 for r in results)
