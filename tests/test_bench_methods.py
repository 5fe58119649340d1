"""Baselines, token budgets, what a method may see, grading by round, and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import good_team, make_xolver

from xolver.bench.batch import RunSpec, run_batch
from xolver.bench.report import load_records, summarize, write_report
from xolver.bench.runner import BenchRecord, Evaluator
from xolver.config import XolverConfig
from xolver.errors import ModelServerError
from xolver.llm.base import ModelRequest, ModelResponse
from xolver.llm.client import ModelClient
from xolver.llm.testing import ScriptedModel
from xolver.runtime import method_settings
from xolver.schema import Problem, Settings, TestCase, Usage
from xolver.team.baselines import BASELINES
from xolver.tools.grading import Grader

FAST = {"retries": 0, "timeout": 5.0, "memory": False, "recall": False, "sandbox": "none"}


def method(name: str, model: ScriptedModel, **overrides: object):
    config = method_settings(XolverConfig(**{**FAST, **overrides}), name)
    return BASELINES[name](ModelClient.from_config(config, model), config).run


def problem(answer: str = "6") -> Problem:
    return Problem(id="p", text="What is 2 times 3?", answer=answer)


async def test_direct_asks_once_for_the_answer_only() -> None:
    model = ScriptedModel(lambda r: "\\boxed{6}")
    result = await method("direct", model)(problem())
    assert result.answer == "6" and len(model.requests) == 1 and "no explanation" in model.requests[0].prompt
    assert result.config.method == "direct" and result.config.settings.retrieval == "none" and not result.verified


async def test_cot_asks_for_steps() -> None:
    model = ScriptedModel(lambda r: "2 * 3 = 6, so \\boxed{6}")
    result = await method("cot", model)(problem())
    assert result.answer == "6" and "step by step" in model.requests[0].prompt


async def test_self_consistency_takes_the_majority_of_k_samples() -> None:
    replies = iter(["\\boxed{5}", "\\boxed{6}", "no answer at all", "\\boxed{6.0}", "\\boxed{5}", "\\boxed{6}"])
    model = ScriptedModel(lambda r: next(replies))
    result = await method("sc", model, samples=6, seed=1)(problem())
    assert result.answer == "6" and len(model.requests) == 6 and result.config.settings.samples == 6
    assert len({r.seed for r in model.requests}) == 6  # independent samples
    assert all(r.temperature == 0.7 for r in model.requests)


async def test_self_consistency_stops_drawing_at_the_budget() -> None:
    model = ScriptedModel(lambda r: "\\boxed{6} " + "word " * 40)
    first = await method("sc", model, samples=1)(problem())
    cost = first.usage.total_tokens  # one call's tokens, whatever the prompt's length
    model.requests.clear()
    budget = int(cost * 2.5)  # a first wave of 2 (2 calls' worth), a second (4 > 2.5), then no more
    result = await method("sc", model, samples=12, agents=2, budget=budget)(problem())
    assert len(model.requests) == 4 and result.stop_reason == "budget" and result.config.settings.budget == budget
    assert [len(r.candidates) for r in result.iterations] == [2, 2]


async def test_self_refine_revises_until_its_feedback_finds_no_mistake() -> None:
    def reply(request: ModelRequest) -> str:
        prompt = request.prompt
        if "Check the proposed solution" in prompt:
            return "Step 2 is wrong.\nVERDICT: WRONG" if "boxed{5}" in prompt else "All steps hold.\nVERDICT: CORRECT"
        if "reviewer" in prompt:
            return "Fixed: 2 * 3 = 6, \\boxed{6}"
        return "2 * 3 = 5, \\boxed{5}"

    model = ScriptedModel(reply)
    result = await method("self-refine", model, iterations=3)(problem())
    assert result.answer == "6" and result.stop_reason == "converged"
    assert [r.best_answer for r in result.iterations] == ["5", "6", "6"] and len(model.requests) == 4


async def test_self_refine_stops_at_the_budget() -> None:
    model = ScriptedModel(
        lambda r: "VERDICT: WRONG " + "word " * 50 if "Check the proposed" in r.prompt else "\\boxed{5}"
    )
    result = await method("self-refine", model, iterations=5, budget=10)(problem())
    assert result.stop_reason == "budget" and len(model.requests) == 1


async def test_the_team_starts_no_round_past_its_budget() -> None:
    xolver = make_xolver(good_team(score="0.5"), iterations=3, budget=50, patience=5)
    result = await xolver.asolve(problem("10063"))
    assert result.stop_reason == "budget" and len(result.iterations) == 1 and result.config.settings.budget == 50


async def test_a_baseline_whose_calls_all_fail_fails() -> None:
    def fail(request: ModelRequest) -> str:
        raise ModelServerError("boom", status=500)

    with pytest.raises(Exception, match="every model call failed"):
        await method("cot", ScriptedModel(fail))(problem())


@pytest.mark.parametrize("name", ["direct", "cot", "sc", "self-refine", "self-reflection"])
async def test_a_baseline_whose_every_reply_is_cut_answers_nothing_and_is_graded_wrong(name: str) -> None:
    """A model that talks past its token limit gave no answer: a wrong answer in the accuracy, not a crash
    left out of it (which would raise the accuracy of a rambling model), and never the cut text's answer."""

    def ramble(request: ModelRequest) -> ModelResponse:
        return ModelResponse(text="Step 1: 2 times 3 is \\boxed{6} and then", model="m", finish_reason="length")

    solve = method(name, ScriptedModel(ramble), samples=3)
    record = await Evaluator(name, solve, Grader(), dataset="toy").evaluate(problem("6"))
    assert record.status == "graded" and record.correct is False and record.answer is None
    assert record.usage.truncated >= 2 and record.error is None


def test_a_method_sees_neither_the_answer_nor_hidden_tests() -> None:
    full = Problem(
        id="c", text="Print the square.", kind="code", answer="x", test_code="def check(f): pass", entry_point="f",
        tests=[TestCase(input="2", output="4"), TestCase(input="3", output="9", hidden=True)],
        metadata={"solution": "print(int(input())**2)"},
    )  # fmt: skip
    view = full.public_view()
    assert view.answer is None and view.test_code is None and view.metadata == {}
    assert [t.input for t in view.tests] == ["2"] and view.id == full.id and view.text == full.text


async def test_the_evaluator_grades_the_answer_and_each_round() -> None:
    seen: list[Problem] = []
    answers = iter(["\\boxed{5}", "\\boxed{6}"])

    async def solve(p: Problem):
        seen.append(p)
        return await method("self-refine", ScriptedModel(lambda r: "VERDICT: WRONG" if "Check the proposed" in r.prompt
                                                         else next(answers)), iterations=1)(p)  # fmt: skip

    record = await Evaluator("self-refine", solve, Grader(), dataset="toy").evaluate(problem("6"))
    assert seen[0].answer is None
    assert record.correct is True and record.iteration_correct == [False, True] and record.answer == "6"
    assert record.stop_reason == "max_iterations" and record.config.method == "self-refine"


async def test_code_problems_are_graded_on_hidden_tests_too(tmp_path: Path) -> None:
    from xolver.sandbox.process import ProcessSandbox

    tests = [TestCase(input="2\n", output="4\n"), TestCase(input="-3\n", output="9\n", hidden=True)]
    code = Problem(id="sq", text="Read n, print n squared.", kind="code", tests=tests)
    # right on the public test, wrong on the hidden one
    reply = "```python\nn = int(input())\nprint(n * 2 if n > 0 else n)\n```"
    solve = method("direct", ScriptedModel(lambda r: reply))
    record = await Evaluator("direct", solve, Grader(ProcessSandbox())).evaluate(code)
    assert record.correct is False and "print(n * 2" in record.answer
    with pytest.raises(Exception, match="needs a sandbox"):
        await Grader(None).grade(code, "print(1)")


async def test_every_method_runs_through_the_factory_and_the_runner(tmp_path: Path) -> None:
    problems = [Problem(id=f"q{i}", text=f"What is {i} plus {i}?", answer=str(2 * i)) for i in range(3)]
    model = ScriptedModel(lambda r: "VERDICT: CORRECT" if "Check the proposed" in r.prompt else "\\boxed{2}")
    for name in ("direct", "cot", "sc", "self-refine"):
        spec = RunSpec(XolverConfig(**{**FAST, "samples": 3}), method=name, dataset="toy", model=model)
        written = await run_batch(spec, problems, tmp_path / f"{name}.jsonl", concurrency=2)
        assert sorted((r.id, r.correct) for r in written) == [("q0", False), ("q1", True), ("q2", False)]
        assert {r.method for r in written} == {name}


def record(method: str, correct: bool | None, tokens: int, rounds: list[bool], cost: float = 0.0) -> BenchRecord:
    return BenchRecord(
        id=f"{method}-{len(rounds)}-{tokens}-{correct}", method=method, dataset="toy", correct=correct,
        answer="1", iterations=len(rounds), iteration_correct=rounds, seconds=1.0,
        usage=Usage(prompt_tokens=tokens, cost=cost),
        status="graded" if correct is not None else "ungraded",
        config=Settings(agents=2, iterations=2).run_config({"solver": "m"}, method=method),
    )  # fmt: skip


def test_summaries_give_accuracy_cost_of_pass_and_convergence() -> None:
    records = [
        record("xolver", True, 1000, [False, True], cost=0.02),
        record("xolver", False, 3000, [False], cost=0.04),
        record("direct", True, 100, [True], cost=0.001),
        record("direct", None, 100, [], cost=0.001),
    ]
    by_method = {s.method: s for s in summarize(records)}
    x, d = by_method["xolver"], by_method["direct"]
    assert x.accuracy == 0.5 and x.mean_tokens == 2000 and x.cost_of_pass == pytest.approx(0.06)
    assert x.tokens_per_pass == 4000 and x.convergence == [0.0, 0.5] and x.mean_iterations == 1.5
    assert d.graded == 1 and d.accuracy == 1.0 and d.cost_of_pass == pytest.approx(0.002)
    assert x.configs == ["agents=2, iterations=2, exemplars=3, retrieval=hybrid, memory=learn, seed=None"]


def test_report_writes_markdown_summary_and_plots(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    rows = [record("xolver", True, 1000, [False, True]), record("direct", False, 100, [False])]
    results.write_text("".join(r.model_dump_json() + "\n" for r in rows) + '{"id": "torn')
    records, bad = load_records([results])
    assert len(records) == 2 and [b.line for _, b in bad] == [3]
    report = write_report(records, tmp_path / "report")
    text = report.read_text()
    assert "| xolver (learn) [results] | m | 1 | 100.0% | 1/1 |" in text
    assert "| direct [results] | m | 1 | 0.0% | 0/1 |" in text
    for png in ("accuracy_vs_cost.png", "convergence.png", "learning_curve.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG" and f"]({png})" in text
    assert json.loads((tmp_path / "report" / "summary.json").read_text())[0]["method"] == "direct"
