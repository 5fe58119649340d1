"""Benchmark methodology: runs with a memory of their own, memory modes, the record of what each problem
was shown and the contamination flag, ordered runs, the cheatsheet and self-reflection baselines, and the
report's learning curve and frontier."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path

import pytest
from helpers import CHECK_PROMPT, make_xolver, planner_reply

from xolver import Experience, InMemoryExperienceStore, Problem
from xolver.bench.batch import RunSpec, run_batch
from xolver.bench.report import frontier, frontiers, load_records, render_markdown, summarize
from xolver.bench.runner import BenchRecord, ExemplarRef
from xolver.config import XolverConfig
from xolver.llm.base import ModelRequest
from xolver.llm.testing import ScriptedModel, scripted_team
from xolver.sandbox import ProcessSandbox
from xolver.schema import Settings, problem_hash

FAST = {"retries": 0, "timeout": 5.0, "recall": False, "agents": 2, "iterations": 1}


def doubling_team() -> ScriptedModel:
    """Solves 'What is N doubled?' right, with a program, and checks it with another."""

    def number(request: ModelRequest) -> int:
        """The problem asked opens the last message: earlier turns and the system prompt hold exemplars."""
        return int(re.findall(r"What is (\d+) doubled", request.messages[-1].content)[0])

    def solver(request: ModelRequest) -> str:
        return f"```python\nn = {number(request)}\nprint(n * 2)\n```"

    def verifier(request: ModelRequest) -> str:
        return f"```python\nprint({number(request)} + {number(request)})\n```" if CHECK_PROMPT in request.prompt else ""

    return scripted_team(planner=planner_reply, solver=solver, judge="Score: 1", verifier=verifier,
                         recall="")  # fmt: skip


def problems(count: int = 4) -> list[Problem]:
    return [Problem(id=f"d{n}", text=f"What is {n} doubled?", answer=str(2 * n)) for n in range(3, 3 + count)]


async def test_read_only_memory_retrieves_and_never_writes() -> None:
    store = InMemoryExperienceStore(
        [Experience(kind="solution", problem="What is 2 doubled?", content="2 * 2 = 4", verified=True)]
    )
    team = make_xolver(doubling_team(), store, ProcessSandbox(), memory="read-only", exemplars=2)
    result = await team.asolve(problems(1)[0])
    assert result.verified and result.exemplars and result.memory_writes == []
    assert len(store.experiences) == 1 and next(iter(store.experiences.values())).uses == 0


def test_memory_switches_still_read_as_modes() -> None:
    assert XolverConfig(memory=True).memory == "learn" and XolverConfig(memory=False).memory == "off"
    assert XolverConfig(memory="read-only").memory == "read-only"


@pytest.mark.slow
async def test_a_run_has_a_memory_of_its_own_and_a_reused_store_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bench run never touches the user's store: it keeps its own beside the results, seeded from the
    starter bank. A second run with a fresh store is shown nothing from the set; the same run pointed at the
    first run's store is flagged contaminated, with the count."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    config = XolverConfig(**FAST, memory="learn", sandbox="process", exemplars=2)
    model = doubling_team()
    first = await run_batch(RunSpec(config, model=model, dataset="doubles"), problems(), tmp_path / "first.jsonl")
    assert (tmp_path / "first.memory").is_dir() and not (tmp_path / "user-data").exists()
    assert all(r.verified and r.correct for r in first)
    assert {r.config.settings.memory_dir for r in first} == {tmp_path / "first.memory"}
    fresh = await run_batch(RunSpec(config, model=model, dataset="doubles"), problems(), tmp_path / "fresh.jsonl")
    reused_config = config.changed(memory_dir=tmp_path / "first.memory")
    await run_batch(RunSpec(reused_config, model=model, dataset="doubles"), problems(), tmp_path / "reused.jsonl")
    set_hashes = {problem_hash(p.text) for p in problems()}
    own = {r.run_id for r in fresh}
    assert not any(e.problem_hash in set_hashes and e.written_by not in own for r in fresh for e in r.exemplars)
    records, _ = load_records([tmp_path / "first.jsonl", tmp_path / "fresh.jsonl", tmp_path / "reused.jsonl"])
    by_run = {s.run: s for s in summarize(records)}
    assert by_run["fresh"].contaminated_exemplars == 0 and by_run["first"].contaminated_exemplars == 0
    assert by_run["reused"].contaminated_exemplars > 0 and by_run["reused"].contaminated_problems == 4
    text = render_markdown(list(by_run.values()))
    assert f"**CONTAMINATED: xolver (learn) [reused]** was shown {by_run['reused'].contaminated_exemplars}" in text


def test_an_exemplar_learned_by_the_run_itself_is_not_contamination() -> None:
    config = Settings().run_config({"solver": "m"})

    def record(i: int, shown: list[ExemplarRef]) -> BenchRecord:
        return BenchRecord(
            id=f"q{i}", index=i, method="xolver", dataset="s", problem_hash=f"h{i}", run_id=f"r{i}", status="graded",
            correct=True, answer="1", seconds=1, exemplars=shown, config=config,
        )  # fmt: skip

    ref = ExemplarRef(id="e", kind="solution", source="self", problem_hash="h0", problem_id="q0", written_by="r0")
    leaked = ref.model_copy(update={"written_by": "an earlier run"})
    seed = ExemplarRef(id="s", kind="strategy", source="seed", problem_hash="h1")  # a corpus holding a test problem
    (clean,) = summarize([record(0, []), record(1, [ref])])
    (dirty,) = summarize([record(0, []), record(1, [leaked]), record(2, [seed, leaked])])
    assert clean.contaminated_exemplars == 0
    assert (dirty.contaminated_exemplars, dirty.contaminated_problems) == (3, 2)


async def test_ordered_runs_one_problem_after_another(tmp_path: Path) -> None:
    spans: dict[str, list[float]] = {}

    async def solver(request: ModelRequest) -> str:
        key = request.prompt.split("What is ")[1].split()[0]
        spans.setdefault(key, []).append(time.perf_counter())
        await asyncio.sleep(0.05)
        spans[key].append(time.perf_counter())
        return "\\boxed{1}"

    model = scripted_team(planner=planner_reply, solver=solver, judge="Score: 1")
    spec = RunSpec(XolverConfig(**FAST, memory="off", sandbox="none"), model=model)
    records = await run_batch(spec, problems(), tmp_path / "o.jsonl", concurrency=4, ordered=True)
    assert [r.index for r in records] == [0, 1, 2, 3]
    starts = [(min(s), max(s)) for _, s in sorted(spans.items(), key=lambda kv: int(kv[0]))]
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(starts))


async def test_the_cheatsheet_is_carried_in_order_and_kept_for_a_resumed_run(tmp_path: Path) -> None:
    seen: list[str] = []

    def reply(request: ModelRequest) -> str:
        if "Rewrite the cheatsheet" in request.prompt:
            sheet = request.prompt.split("Current cheatsheet:\n")[1].split("\n\nA problem")[0]
            return sheet.replace("(empty: this is the first problem)", "") + " double it;"
        seen.append(request.prompt.split("Cheatsheet:")[1].split("Problem:")[0].strip())
        n = int(request.prompt.split("What is ")[1].split()[0])
        return f"\\boxed{{{2 * n}}}"

    spec = RunSpec(XolverConfig(**FAST, sandbox="none"), method="cheatsheet", model=ScriptedModel(reply))
    out = tmp_path / "sheet.jsonl"
    first = await run_batch(spec, problems(2), out, concurrency=4)
    assert [r.correct for r in first] == [True, True] and [r.index for r in first] == [0, 1]
    assert "(empty" in seen[0] and "double it;" in seen[1]
    assert (tmp_path / "sheet.cheatsheet.md").read_text().count("double it;") == 2
    await run_batch(spec, problems(3), out)  # resumed: the third problem sees the sheet the first two wrote
    assert seen[-1].count("double it;") == 2


async def test_self_reflection_retries_from_its_advice_alone() -> None:
    from xolver.runtime import Runtime

    def reply(request: ModelRequest) -> str:
        if "Reflect on this solution" in request.prompt:
            return "I added instead of multiplying. Multiply next time.\nVERDICT: WRONG"
        if "Advice from reflecting" in request.prompt:
            assert "2 + 3 = 5" not in request.prompt, "a fresh attempt does not see the last solution"
            return "2 * 3 = 6, \\boxed{6}"
        return "2 + 3 = 5, \\boxed{5}"

    async with Runtime(XolverConfig(**FAST, memory="off"), method="self-reflection", model=ScriptedModel(reply)) as rt:
        result = await rt.solve(Problem(text="What is 2 times 3?", answer="6"))
    assert [r.best_answer for r in result.iterations] == ["5", "6"] and result.answer == "6"
    assert result.config.method == "self-reflection"


def test_the_report_draws_a_learning_curve_and_marks_the_frontier() -> None:
    config = Settings().run_config({"solver": "m"}, method="direct")

    def record(i: int, correct: bool, tokens: int, method: str = "direct") -> BenchRecord:
        from xolver.schema import Usage

        return BenchRecord(
            id=f"q{i}", index=i, method=method, status="graded", correct=correct, answer="1", seconds=1,
            usage=Usage(prompt_tokens=tokens), config=config.model_copy(update={"method": method}),
        )  # fmt: skip

    rows = [record(i, c, 100) for i, c in enumerate([False, True, True, False])]
    rows += [record(i, c, 500, "cot") for i, c in enumerate([True, True, False, False])]
    rows += [record(i, c, 900, "sc") for i, c in enumerate([True, False, False, False])]
    summaries = {s.method: s for s in summarize(rows)}
    assert summaries["direct"].curve == [0.0, 0.5, 2 / 3, 0.5]
    assert {s.method for s in frontier(list(summaries.values()))} == {"direct"}
    # the same three methods on a harder set, each dearer than `direct` on the easy one: compared across
    # sets, `direct` would beat them all; each set has a frontier of its own (tables and plots alike)
    hard = [r.model_copy(update={"dataset": "hard", "usage": r.usage.model_copy(update={"prompt_tokens": 1000})})
            for r in rows[4:]]  # fmt: skip
    hard_cot = next(s for s in summarize(hard) if s.method == "cot")
    marked = frontiers(list(summaries.values()) + summarize(hard))
    assert hard_cot in marked["hard"] and [s.method for s in marked[summaries["direct"].dataset]] == ["direct"]


async def test_a_family_set_reports_accuracy_by_instance(tmp_path: Path) -> None:
    """The later siblings of a kind are the learning signal: the n-th instance of each family gets a column."""
    rows = [
        Problem(id=f"{kind}{n}", text=f"What is {n} {kind}?", answer="1", metadata={"family": kind})
        for n in range(3)
        for kind in ("plus", "times")
    ]
    right = {"plus0": "2", "times0": "2", "plus1": "1", "times1": "2", "plus2": "1", "times2": "1"}
    model = ScriptedModel(lambda r: f"\\boxed{{{right[next(p.id for p in rows if p.text in r.prompt)]}}}")
    spec = RunSpec(XolverConfig(**FAST, memory="off", sandbox="none"), method="direct", model=model)
    records = await run_batch(spec, rows, tmp_path / "f.jsonl", ordered=True)
    assert [r.family for r in records] == ["plus", "times"] * 3
    (direct,) = summarize(load_records([tmp_path / "f.jsonl"])[0])
    assert direct.by_instance == [0.0, 0.5, 1.0]
    assert "| direct [f] | 0.0% | 50.0% | 100.0% |" in render_markdown([direct])
