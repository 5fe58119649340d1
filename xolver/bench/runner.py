"""The batch runner: problems in flight concurrently, one JSON line per finished problem, resumable.

Each line is written with a single `write` to a file opened for appending and then synced, so a run
killed at any moment leaves only whole lines; a rerun with the same output skips the ids already there.
A problem that fails is recorded with its error and never stops the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from xolver.bench.graders import Grader
from xolver.schema import Problem, Record, SolveResult, Usage

Solve = Callable[[Problem], Awaitable[SolveResult]]


class BenchRecord(Record):
    """One finished problem of a run: the answer, whether it is right, what it cost, and the configuration."""

    id: str
    method: str
    dataset: str | None = None
    correct: bool | None = Field(description="None: the problem has no reference, or grading failed")
    answer: str | None
    reference: str | None = None
    verified: bool = False
    iterations: int = 0
    iteration_correct: list[bool | None] = Field(
        default_factory=list, description="whether the best answer after each round was right"
    )
    stop_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    seconds: float
    error: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


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


def cut_torn_tail(out: Path) -> None:
    """Drop a last line a kill left half-written, so the next record starts on a line of its own."""
    if not out.exists():
        return
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        with out.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def append_line(out: Path, record: BenchRecord) -> None:
    data = (record.model_dump_json() + "\n").encode()
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def public_view(problem: Problem) -> Problem:
    """What a method may see: no reference answer, no hidden tests, no grading code, no metadata
    (which may hold a reference solution). Grading uses the whole problem."""
    return problem.model_copy(
        update={
            "answer": None,
            "test_code": None,
            "tests": [t for t in problem.tests if not t.hidden],
            "metadata": {},
        }
    )


class Evaluator:
    """Solves a problem with one method and grades the result, including the best answer after each round."""

    def __init__(self, method: str, solve: Solve, grader: Grader, *, dataset: str | None = None) -> None:
        self.method = method
        self.solve = solve
        self.grader = grader
        self.dataset = dataset

    async def evaluate(self, problem: Problem) -> BenchRecord:
        """Never raises for a failing method or an unreadable answer: the record carries the error."""
        start = time.perf_counter()
        try:
            result = await self.solve(public_view(problem))
        except Exception as exc:
            seconds = time.perf_counter() - start
            return error_record(problem, exc, method=self.method, dataset=self.dataset, seconds=seconds)
        seconds = time.perf_counter() - start
        answer = result.answer  # the program, for a code problem
        base = {
            "id": problem.id, "method": self.method, "dataset": self.dataset, "answer": answer,
            "reference": problem.answer, "verified": result.verified, "iterations": len(result.iterations),
            "stop_reason": result.stop_reason, "usage": result.usage, "seconds": seconds,
            "config": result.config.model_dump(mode="json"),
        }  # fmt: skip
        try:
            grades: dict[str | None, bool | None] = {}
            for candidate in (answer, *(r.best_answer for r in result.iterations)):
                if candidate not in grades:
                    grades[candidate] = await self.grader.grade(problem, candidate)
        except Exception as exc:
            return BenchRecord(**base, correct=None, error=f"grading failed: {type(exc).__name__}: {exc}")
        by_round = [grades[r.best_answer] for r in result.iterations]
        return BenchRecord(**base, correct=grades[answer], iteration_correct=by_round)


def error_record(
    problem: Problem, exc: BaseException, *, method: str, dataset: str | None = None, seconds: float = 0.0
) -> BenchRecord:
    """The record of a problem whose solve failed: wrong when it could have been graded."""
    gradable = problem.answer is not None or problem.kind == "code"
    return BenchRecord(
        id=problem.id, method=method, dataset=dataset, correct=False if gradable else None, answer=None,
        reference=problem.answer, seconds=seconds, error=f"{type(exc).__name__}: {exc}",
    )  # fmt: skip


Evaluate = Callable[[Problem], Awaitable[BenchRecord]]


async def run_benchmark(
    problems: Sequence[Problem],
    evaluate: Evaluate,
    out: str | Path,
    *,
    concurrency: int = 8,
    on_record: Callable[[BenchRecord], None] | None = None,
    on_error: Callable[[Problem, BaseException], BenchRecord] | None = None,
) -> list[BenchRecord]:
    """Evaluate every problem not yet in `out`, `concurrency` at a time; returns the records written now.

    `evaluate` is an `Evaluator`'s (local) or a Ray pool's; if it raises (a lost worker), `on_error`
    makes the record, so one problem never stops the run.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cut_torn_tail(out)
    done = finished_ids(out)
    todo = [p for p in problems if p.id not in done]
    gate = asyncio.Semaphore(concurrency)
    written: list[BenchRecord] = []

    async def one(problem: Problem) -> None:
        async with gate:
            start = time.perf_counter()
            try:
                record = await evaluate(problem)
            except Exception as exc:
                if on_error is None:
                    raise
                record = on_error(problem, exc).model_copy(update={"seconds": time.perf_counter() - start})
        append_line(out, record)
        written.append(record)
        if on_record is not None:
            on_record(record)

    async with asyncio.TaskGroup() as group:
        for problem in todo:
            group.create_task(one(problem))
    return written
