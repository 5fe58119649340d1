"""The batch runner: problems in flight concurrently, one JSON line per finished problem, resumable.

Each line is written with a single `write` to a file opened for appending and then synced, so a run
killed at any moment leaves only whole lines; a rerun with the same output skips the ids already there.
A problem that fails is recorded with its error and a status saying so (`solve_failed`, `grade_failed`),
never as a wrong answer, and never stops the run.

The whole `SolveResult` of each problem (every model call, round, judgement, program run) goes to a
sidecar file beside the results, `NAME.solves.jsonl`, before its record, which points to it by `run_id`:
the results stay small and quick to resume from, and no finished problem's solve is ever missing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from xolver.jsonl import append_jsonl, cut_torn_tail
from xolver.runtime import Runtime, Solve, method_settings
from xolver.schema import (
    Experience,
    ExperienceKind,
    MethodName,
    Problem,
    Record,
    RunConfig,
    SolveResult,
    Usage,
    Verification,
    problem_hash,
)
from xolver.tools.grading import Grader

Status = Literal["graded", "ungraded", "solve_failed", "grade_failed"]


class ExemplarRef(Record):
    """An experience a problem was shown, and which solved problem (and which solve) it came from."""

    id: str
    kind: ExperienceKind
    source: str
    problem_hash: str = Field(description="fingerprint of the problem the experience came from")
    problem_id: str | None = Field(None, description="that problem's id, when the experience was learned in a solve")
    written_by: str | None = Field(None, description="the run id of the solve that wrote it, if one did")

    @classmethod
    def of(cls, experience: Experience) -> ExemplarRef:
        return cls(
            id=experience.id, kind=experience.kind, source=experience.source,
            problem_hash=problem_hash(experience.problem), problem_id=experience.provenance.get("problem_id"),
            written_by=experience.provenance.get("run_id"),
        )  # fmt: skip


class BenchRecord(Record):
    """One finished problem of a run: the answer, whether it is right, what it cost, and the configuration.

    `status` keeps a crash apart from a wrong answer: `graded` (`correct` is True or False), `ungraded`
    (no reference to grade against), `solve_failed` or `grade_failed` (`error` says why; `correct` None).
    """

    id: str
    index: int | None = Field(None, description="the problem's position in its set: the learning curve's x")
    family: str | None = Field(None, description="the problem's kind in a family set (its `metadata.family`)")
    run: str | None = Field(None, exclude=True, description="the results file it was read from (set on loading)")
    method: MethodName
    dataset: str | None = None
    problem_hash: str | None = None
    status: Status
    correct: bool | None = Field(description="whether the answer is right; None unless `status` is graded")
    answer: str | None
    reference: str | None = None
    verified: bool = False
    verification: Verification | None = Field(None, description="the evidence and the rule behind `verified`")
    judge_failures: int = 0
    iterations: int = 0
    iteration_correct: list[bool | None] = Field(
        default_factory=list, description="whether the best answer after each round was right"
    )
    stop_reason: str | None = None
    exemplars: list[ExemplarRef] = Field(default_factory=list, description="what the problem was shown from memory")
    oracle: bool = Field(
        False, description="an oracle-memory run: each earlier problem's reference solution was written to the store"
    )
    usage: Usage = Field(default_factory=Usage)
    seconds: float
    error: str | None = None
    config: RunConfig | None = None
    run_id: str | None = Field(None, description="the solve's `run_id` in the sidecar file NAME.solves.jsonl")
    worker: str | None = Field(None, description="the worker process that solved it in a Ray run (HOST:PID node NODE)")
    solve: SolveResult | None = Field(
        None, exclude=True, description="the whole solve, in memory; written to the sidecar file, not to this line"
    )

    @classmethod
    def of(cls, result: SolveResult, *, method: MethodName, dataset: str | None, reference: str | None,
           seconds: float, **grading: object) -> BenchRecord:  # fmt: skip
        """The record of a finished solve; `grading` says its status and correctness."""
        return cls(
            id=result.problem.id, method=method, dataset=dataset, problem_hash=problem_hash(result.problem.text),
            answer=result.answer, reference=reference, verified=result.verified, verification=result.verification,
            judge_failures=result.judge_failures, iterations=len(result.iterations), stop_reason=result.stop_reason,
            exemplars=[ExemplarRef.of(e) for e in result.exemplars], usage=result.usage, seconds=seconds,
            config=result.config, run_id=result.run_id, solve=result, **grading,
        )  # fmt: skip


def solves_path(out: str | Path) -> Path:
    """The sidecar of a results file: `runs/x.jsonl` keeps its solves in `runs/x.solves.jsonl`."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".solves.jsonl")


def finished_ids(out: Path) -> set[str]:
    """Ids already written; a torn last line (a kill mid-write) is ignored and will be redone."""
    if not out.exists():
        return set()
    done: set[str] = set()
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            done.add(json.loads(line)["id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return done


def append_record(out: Path, record: BenchRecord) -> None:
    """The solve to the sidecar first, then the record: a record on disk always finds its solve."""
    if record.solve is not None:
        append_jsonl(solves_path(out), record.solve)
    append_jsonl(out, record)


class Evaluator:
    """Solves a problem with one method and grades the result, including the best answer after each round.

    The method gets the problem's public view (and the loop and every baseline take it again themselves,
    whoever calls them); the reference, hidden tests and test code reach the grader alone.
    """

    def __init__(
        self,
        method: MethodName,
        solve: Solve,
        grader: Grader,
        *,
        dataset: str | None = None,
        config: RunConfig | None = None,
    ) -> None:
        self.method = method
        self.solve = solve
        self.grader = grader
        self.dataset = dataset
        self.config = config

    @classmethod
    def of(cls, runtime: Runtime, method: MethodName | None = None, *, dataset: str | None = None) -> Evaluator:
        """`method` (the runtime's by default) on the runtime's services, graded by its grader."""
        method = method or runtime.method
        config = method_settings(runtime.config, method).run_config(runtime.client.model_names(), method=method)
        return cls(method, runtime.solver(method), runtime.grader, dataset=dataset, config=config)

    async def evaluate(self, problem: Problem) -> BenchRecord:
        """Never raises for a failing method or an unreadable answer: the record carries the error."""
        start = time.perf_counter()
        try:
            result = await self.solve(problem.public_view())
        except Exception as exc:
            return self.failed(problem, exc, seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        base = {"method": self.method, "dataset": self.dataset, "reference": problem.answer, "seconds": seconds}
        try:
            correct, by_round = await grade_rounds(self.grader, problem, result)
        except Exception as exc:
            error = f"grading failed: {type(exc).__name__}: {exc}"
            return BenchRecord.of(result, **base, status="grade_failed", correct=None, error=error)
        status: Status = "ungraded" if correct is None else "graded"
        return BenchRecord.of(result, **base, status=status, correct=correct, iteration_correct=by_round)

    def failed(self, problem: Problem, exc: BaseException, *, seconds: float = 0.0) -> BenchRecord:
        return failure_record(
            problem, exc, method=self.method, dataset=self.dataset, config=self.config, seconds=seconds
        )


async def grade_rounds(grader: Grader, problem: Problem, result: SolveResult) -> tuple[bool | None, list[bool | None]]:
    """Whether the final answer (the program, for a code problem) is right, and the best answer after each
    round; each distinct answer is graded once."""
    grades: dict[str | None, bool | None] = {}
    for candidate in (result.answer, *(r.best_answer for r in result.iterations)):
        if candidate not in grades:
            grades[candidate] = await grader.grade(problem, candidate)
    return grades[result.answer], [grades[r.best_answer] for r in result.iterations]


def failure_record(
    problem: Problem,
    exc: BaseException,
    *,
    method: MethodName,
    dataset: str | None,
    config: RunConfig | None,
    seconds: float = 0.0,
) -> BenchRecord:
    """The record of a problem whose solve failed (or whose worker was lost): a failure, not a wrong answer."""
    return BenchRecord(
        id=problem.id, method=method, dataset=dataset, status="solve_failed", correct=None, answer=None,
        problem_hash=problem_hash(problem.text), reference=problem.answer, seconds=seconds,
        error=f"{type(exc).__name__}: {exc}", config=config,
    )  # fmt: skip


Evaluate = Callable[[Problem], Awaitable[BenchRecord]]


async def run_benchmark(
    problems: Sequence[Problem],
    evaluate: Evaluate,
    out: str | Path,
    *,
    concurrency: int = 8,
    ordered: bool = False,
    on_record: Callable[[BenchRecord], None] | None = None,
    on_error: Callable[[Problem, BaseException], BenchRecord] | None = None,
) -> list[BenchRecord]:
    """Evaluate every problem not yet in `out`, `concurrency` at a time; returns the records written now.

    `ordered`: one problem at a time, in the set's order, each after the ones before it have written their
    experience (a learning run whose problems can learn from each other); work inside a problem stays
    concurrent. `evaluate` is an `Evaluator`'s (local) or a Ray pool's; if it raises (a lost worker),
    `on_error` makes the record, so one problem never stops the run.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cut_torn_tail(out)
    cut_torn_tail(solves_path(out))
    done = finished_ids(out)
    todo = [(index, p) for index, p in enumerate(problems) if p.id not in done]
    gate = asyncio.Semaphore(1 if ordered else concurrency)
    written: list[BenchRecord] = []

    async def one(index: int, problem: Problem) -> None:
        async with gate:
            start = time.perf_counter()
            try:
                record = await evaluate(problem)
            except Exception as exc:
                if on_error is None:
                    raise
                record = on_error(problem, exc).model_copy(update={"seconds": time.perf_counter() - start})
        record = record.model_copy(update={"index": index, "family": problem.metadata.get("family")})
        append_record(out, record)
        written.append(record)
        if on_record is not None:
            on_record(record)

    if ordered:
        for index, problem in todo:
            await one(index, problem)
        return written
    async with asyncio.TaskGroup() as group:
        for index, problem in todo:
            group.create_task(one(index, problem))
    return written
