"""The learning report: memory off, read-only, learn and an oracle memory on one ordered pass of a family
set, its decomposition (read side, what was learned, learning's share), and where each right answer's help
came from. The model is a simulated one that is right only when shown a solved sibling."""

from __future__ import annotations

from pathlib import Path

import pytest

from xolver.bench.batch import RunSpec, run_batch
from xolver.bench.datasets import load_problems
from xolver.bench.report import learning_decomposition, load_records, render_markdown, summarize
from xolver.config import XolverConfig
from xolver.errors import UserInputError
from xolver.schema import Problem
from xolver.team.memory_agents import reference_records
from xolver.team.simulated import SimulatedModel, Skill

TEST_SET = Path(__file__).parent / "data" / "heldout.jsonl"
FAST = {"retries": 0, "timeout": 10.0, "recall": False, "agents": 2, "iterations": 1, "sandbox": "process"}


def family_pass(families: int = 2, instances: int = 3) -> list[Problem]:
    """The first `instances` of the first `families` families of the test set, in its order (round-robin)."""
    problems = load_problems(TEST_SET)[0]
    kinds = list(dict.fromkeys(p.metadata["family"] for p in problems))[:families]
    chosen = [p for p in problems if p.metadata["family"] in kinds]
    return chosen[: families * instances]


def spec(problems: list[Problem], memory: str, *, oracle: bool = False) -> RunSpec:
    model = SimulatedModel(problems, Skill(p=1.0, needs_exemplar=True))
    return RunSpec(XolverConfig(**FAST, memory=memory), model=model, dataset="pass", oracle=oracle)


def test_an_oracle_lesson_is_the_reference_program_lifted_and_verified() -> None:
    problem = load_problems(TEST_SET)[0][0]
    solution, fragment = reference_records(problem, run_id="r1")
    assert solution.verified and solution.trusted and solution.source == "external"
    assert solution.provenance == {"problem_id": problem.id, "oracle": "reference", "run_id": "r1"}
    assert f"Answer: {problem.answer}" in solution.content and fragment.kind == "code_fragment"
    assert fragment.content.splitlines()[0].endswith("= 37"), "the problem's numbers named at the top"
    assert reference_records(Problem(text="no reference"), run_id=None) == []


@pytest.mark.parametrize(
    ("memory", "ordered", "executor", "method"),
    [("learn", True, "local", "xolver"), ("read-only", False, "local", "xolver"),
     ("read-only", True, "ray", "xolver"), ("read-only", True, "local", "direct")],
)  # fmt: skip
async def test_an_oracle_is_refused_where_it_would_measure_something_else(
    tmp_path: Path, memory: str, ordered: bool, executor: str, method: str
) -> None:
    """A learn run given the references would mix its own writes with the oracle's; an unordered one would
    let a problem see its successors' solutions."""
    run = spec(family_pass(1, 1), memory, oracle=True)
    run = RunSpec(run.config, method=method, model=run.model, oracle=True)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="--oracle"):
        await run_batch(run, family_pass(1, 1), tmp_path / "o.jsonl", ordered=ordered, executor=executor)  # type: ignore[arg-type]
    assert not (tmp_path / "o.jsonl").exists()


async def test_the_learning_report_decomposes_one_pass(tmp_path: Path) -> None:
    """Right only with a solved sibling shown: the seed bank (no sibling of these novel shapes) gives nothing,
    the oracle every later instance; each right answer of the oracle run was helped by its own run's writes."""
    problems = family_pass()
    for mode in ("off", "read-only", "learn"):
        await run_batch(spec(problems, mode), problems, tmp_path / f"{mode}.jsonl", ordered=True)
    await run_batch(spec(problems, "read-only", oracle=True), problems, tmp_path / "oracle.jsonl", ordered=True)
    records, bad = load_records(tmp_path / f"{m}.jsonl" for m in ("off", "read-only", "learn", "oracle"))
    assert not bad
    rows = {s.memory: s for s in summarize(records)}
    assert set(rows) == {"off", "read-only", "learn", "oracle"}
    assert (rows["off"].correct, rows["read-only"].correct, rows["oracle"].correct) == (0, 0, 4)
    assert rows["oracle"].right_from == {"own": 4, "seed": 0, "neither": 0}
    assert rows["oracle"].contaminated_exemplars == 0, "the oracle's writes are this run's own"
    assert rows["oracle"].by_instance == [0.0, 1.0, 1.0]
    learned = rows["learn"].correct
    decomposition = learning_decomposition(list(rows.values()))
    assert decomposition is not None
    assert f"read side (oracle - read-only) +4, learned (learn - read-only) {learned:+d}" in decomposition
    assert f"learning's share {learned / 4:.2f}" in decomposition
    report = render_markdown(summarize(records))
    assert "| oracle | oracle |" in report and "Learning decomposition (n = 6)" in report


def test_a_sibling_solved_wrongly_teaches_the_simulated_model_nothing() -> None:
    """Else a learning run that verified and wrote a wrong answer would be credited with the next sibling."""
    from xolver.llm.base import Message

    first, *_, second = family_pass(1, 2)
    model = SimulatedModel([first, second], Skill(p=1.0, needs_exemplar=True))
    target = model._target(second.text)
    assert target is not None

    def shown(answer: str) -> list[Message]:
        return [Message(role="user", content=f"{second.text}\nSolved: {first.text}\nAnswer: {answer}")]

    assert model._shown_sibling(shown(str(first.answer)), target)
    assert model._shown_sibling(shown(f"{float(first.answer or 0):.1f}"), target), "4.0 written for 4"
    assert not model._shown_sibling(shown(str(int(first.answer or 0) + 1)), target)
    assert not model._shown_sibling([Message(role="user", content=second.text)], target)
