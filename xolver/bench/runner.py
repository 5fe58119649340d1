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

from xolver.schema import Problem, Record, SolveResult, Usage
from xolver.team.parsing import canonical_answer

Solve = Callable[[Problem], Awaitable[SolveResult]]


class BenchRecord(Record):
    id: str
    method: str
    correct: bool | None
    answer: str | None
    reference: str | None = None
    verified: bool = False
    iterations: int = 0
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


def grade(problem: Problem, result: SolveResult) -> bool | None:
    """Right or wrong when the problem carries a reference: tests passed, or the same canonical answer."""
    if result.verification.method == "tests":
        return result.verification.passed
    if problem.answer is None:
        return None
    return canonical_answer(result.answer) == canonical_answer(problem.answer)


async def run_benchmark(
    problems: Sequence[Problem],
    solve: Solve,
    out: str | Path,
    *,
    method: str = "xolver",
    concurrency: int = 8,
    on_record: Callable[[BenchRecord], None] | None = None,
) -> list[BenchRecord]:
    """Solve every problem not yet in `out`, `concurrency` at a time; returns the records written now."""
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
                result = await solve(problem)
            except Exception as exc:
                record = BenchRecord(
                    id=problem.id, method=method, correct=False if problem.answer is not None else None,
                    answer=None, reference=problem.answer, seconds=time.perf_counter() - start,
                    error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
            else:
                record = BenchRecord(
                    id=problem.id, method=method, correct=grade(problem, result), answer=result.answer,
                    reference=problem.answer, verified=result.verified, iterations=len(result.iterations),
                    usage=result.usage, seconds=time.perf_counter() - start, config=result.config.model_dump(),
                )  # fmt: skip
        append_line(out, record)
        written.append(record)
        if on_record is not None:
            on_record(record)

    async with asyncio.TaskGroup() as group:
        for problem in todo:
            group.create_task(one(problem))
    return written
