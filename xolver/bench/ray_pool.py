"""Spreading a run over a Ray cluster: evaluators live in Ray actors, the driver alone writes results.

Each actor opens its own `Runtime` from the run's picklable `RunSpec` (its own model client, memory and
sandbox on its machine) and evaluates several problems at once. Records (with their whole solves) come
back to the driver, which appends them to the one results file, so resuming after a kill works exactly as
in a local run.
Ray is an optional extra: `pip install 'xolver[ray]'`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from xolver.bench.runner import BenchRecord, Evaluator
from xolver.errors import UserInputError
from xolver.schema import Problem, SolveResult

if TYPE_CHECKING:
    from xolver.bench.batch import RunSpec


class _EvaluatorActor:
    def __init__(self, spec: RunSpec) -> None:
        self.runtime = spec.runtime()
        self.evaluator = Evaluator.of(self.runtime, dataset=spec.dataset)

    async def evaluate(self, problem_json: str) -> tuple[str, str | None]:
        """The record and its solve, which the record's JSON leaves out."""
        record = await self.evaluator.evaluate(Problem.model_validate_json(problem_json))
        return record.model_dump_json(), None if record.solve is None else record.solve.model_dump_json()

    async def close(self) -> None:
        await self.runtime.aclose()


class RayPool:
    """`workers` actors, each with `per_worker` problems in flight; `evaluate` is the runner's hook."""

    def __init__(self, spec: RunSpec, *, workers: int = 2, per_worker: int = 4, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise UserInputError("--executor ray needs Ray: pip install 'xolver[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        actor = ray.remote(num_cpus=0)(_EvaluatorActor)
        self.actors = [actor.options(max_concurrency=per_worker).remote(spec) for _ in range(workers)]
        self._in_flight = [0] * workers

    async def evaluate(self, problem: Problem) -> BenchRecord:
        """On the actor with the fewest problems in flight."""
        index = min(range(len(self.actors)), key=self._in_flight.__getitem__)
        actor: Any = self.actors[index]
        self._in_flight[index] += 1
        try:
            record_json, solve_json = await actor.evaluate.remote(problem.model_dump_json())
        finally:
            self._in_flight[index] -= 1
        solve = None if solve_json is None else SolveResult.model_validate_json(solve_json)
        return BenchRecord.model_validate_json(record_json).model_copy(update={"solve": solve})

    async def aclose(self) -> None:
        """Let every actor close its runtime, then end them."""
        ray = self._ray
        for actor in self.actors:
            with contextlib.suppress(Exception):  # an actor already lost has nothing left to close
                await asyncio.wait_for(actor.close.remote(), timeout=30)
            ray.kill(actor)
        self.actors = []
