"""A batch run as data (`RunSpec`) and the one function that carries it out, here or over Ray.

The CLI, the Python API and a Ray worker all start from a `RunSpec`: a typed configuration, a method and
a dataset name, which reach the runtime (and so the loop) unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from xolver.bench.runner import BenchRecord, Evaluate, Evaluator, failure_record, run_benchmark
from xolver.errors import UserInputError
from xolver.llm.base import Model
from xolver.llm.client import ROLES
from xolver.runtime import Runtime, method_settings
from xolver.schema import AgentRole, MethodName, Problem, Settings
from xolver.team.memory_agents import reference_records

Executor = Literal["local", "ray"]


@dataclass(frozen=True)
class RunSpec:
    """What a batch run is, as picklable data: a worker anywhere opens the same runtime from it.

    `model` replaces the configured models (a `ScriptedModel` in tests). `oracle`: an oracle-memory run, whose
    store is given each problem's reference solution once it is solved (the team itself only reads it).
    """

    config: Settings
    method: MethodName = "xolver"
    dataset: str | None = None
    model: Model | Mapping[AgentRole, Model] | None = None
    oracle: bool = False

    def runtime(self) -> Runtime:
        return Runtime(self.config, method=self.method, model=self.model)

    def at(self, out: str | Path) -> RunSpec:
        """This run writing to `out`: it keeps a memory of its own beside the results (`<out>.memory`, seeded
        from the configured bank) unless a store was named, and the cheatsheet's sheet beside them too; so a
        batch never reads or writes the user's default store, and a resumed run goes on with its own."""
        out, config, changes = Path(out), self.config, {}
        if self.method == "xolver" and config.memory != "off" and not config.memory_dir and not config.chroma_url:
            changes["memory_dir"] = out.parent / f"{out.stem}.memory"
        if self.method == "cheatsheet" and config.cheatsheet_file is None:
            changes["cheatsheet_file"] = out.parent / f"{out.stem}.cheatsheet.md"
        return replace(self, config=config.changed(**changes)) if changes else self

    def failed(self, problem: Problem, exc: BaseException) -> BenchRecord:
        """A problem lost with its worker, recorded by the driver as a failure."""
        settings = method_settings(self.config, self.method)
        config = settings.run_config({role: settings.model_for(role) for role in ROLES}, method=self.method)
        return failure_record(problem, exc, method=self.method, dataset=self.dataset, config=config)


async def run_batch(
    spec: RunSpec,
    problems: Sequence[Problem],
    out: str | Path,
    *,
    concurrency: int = 8,
    ordered: bool = False,
    executor: Executor = "local",
    workers: int = 2,
    address: str | None = None,
    on_record: Callable[[BenchRecord], None] | None = None,
) -> list[BenchRecord]:
    """Evaluate `problems` not yet in `out` with `spec`'s method: in this process, or in `workers` Ray
    actors (`concurrency / workers` problems each) whose records this driver alone writes. `ordered` (and
    always for the cheatsheet) solves one problem at a time in the set's order."""
    spec = spec.at(out)
    ordered = ordered or spec.method == "cheatsheet"
    if spec.oracle:
        _check_oracle(spec, ordered=ordered, executor=executor)
    if executor == "ray":
        from xolver.bench.ray_pool import RayPool

        pool = RayPool(spec, workers=workers, per_worker=math.ceil(concurrency / workers), address=address)
        try:
            await pool.start()
            return await run_benchmark(
                problems, pool.evaluate, out, concurrency=concurrency, ordered=ordered, on_record=on_record,
                on_error=spec.failed,
            )  # fmt: skip
        finally:
            await pool.aclose()
    async with spec.runtime() as runtime:
        evaluate = Evaluator.of(runtime, dataset=spec.dataset).evaluate
        if spec.oracle:
            evaluate = _with_oracle(runtime, evaluate)
        return await run_benchmark(problems, evaluate, out, concurrency=concurrency, ordered=ordered,
                                   on_record=on_record)  # fmt: skip


def _check_oracle(spec: RunSpec, *, ordered: bool, executor: Executor) -> None:
    """An oracle memory is an ordered, local team run that reads memory and never writes it itself."""
    if spec.method != "xolver" or spec.config.memory != "read-only" or not ordered or executor != "local":
        raise UserInputError(
            "--oracle is a team run (--method xolver) with --memory-mode read-only and --ordered, run here "
            "(--executor local): the store is given each solved problem's reference solution"
        )


def _with_oracle(runtime: Runtime, evaluate: Evaluate) -> Evaluate:
    """`evaluate`, then the problem's reference solution written to the run's store, as perfect verification
    would have written it: the next problems of the run can retrieve it."""
    store = runtime.store
    if store is None:
        raise UserInputError("--oracle needs an experience store (memory is off)")

    async def evaluate_then_write(problem: Problem) -> BenchRecord:
        record = await evaluate(problem)
        records = reference_records(problem, run_id=record.run_id)
        if records:
            await store.add(records)
        return record.model_copy(update={"oracle": True})

    return evaluate_then_write
