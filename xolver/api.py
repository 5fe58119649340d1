"""The Python API: `Xolver(config).solve(problem)`, its async twin, and batch helpers.

Async is the only implementation; the sync methods run it through `run_sync`, which refuses to run
inside a running event loop (Jupyter, async code) and says to `await` the async method instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from xolver.bench.graders import Grader
from xolver.bench.methods import make_method
from xolver.bench.runner import Evaluator
from xolver.config import XolverConfig, load_config
from xolver.errors import UserInputError
from xolver.llm.base import Model
from xolver.llm.client import ModelClient
from xolver.llm.embedded import stop_embedded_servers
from xolver.memory import open_store
from xolver.memory.base import ExperienceStore
from xolver.sandbox import open_sandbox
from xolver.sandbox.base import Sandbox
from xolver.schema import AgentRole, Problem, SolveResult, TaskKind
from xolver.team.loop import EventSink, XolverLoop

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """The one bridge from sync to async."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError(
        "a sync Xolver method was called inside a running event loop (Jupyter or async code): "
        "use the async method instead, e.g. `await xolver.asolve(problem)`"
    )


def as_problem(problem: str | Problem, kind: TaskKind | None = None) -> Problem:
    """A `Problem` from text or a `Problem`; `kind` overrides the problem's own."""
    if isinstance(problem, Problem):
        return problem if kind is None else problem.model_copy(update={"kind": kind})
    if not isinstance(problem, str) or not problem.strip():
        raise UserInputError("a problem must be non-empty text or a Problem")
    return Problem(text=problem.strip(), kind=kind or "math")


class Xolver:
    """A team ready to solve problems: one model client and one experience store, shared by every solve.

    `store` defaults to the configured persistent memory (`memory=False` for none), and `sandbox` to
    the configured backend (`sandbox="none"` for none: then no agent code runs).
    `model` is a litellm model string (a configuration override, like every keyword), or a `Model`
    object such as `ScriptedModel` (or a mapping of one per role) that replaces the configured models.
    """

    def __init__(
        self,
        config: XolverConfig | None = None,
        *,
        model: str | Model | Mapping[AgentRole, Model] | None = None,
        store: ExperienceStore | None = None,
        sandbox: Sandbox | None = None,
        **overrides: Any,
    ) -> None:
        if isinstance(model, str):
            overrides["model"], model = model, None
        base = config if config is not None else load_config()
        self.config = XolverConfig.model_validate({**base.model_dump(), **overrides}) if overrides else base
        self.client = ModelClient.from_config(self.config, model)
        self.store = store if store is not None or not self.config.memory else open_store(self.config)
        self.sandbox = sandbox
        if sandbox is None and self.config.sandbox != "none":
            self.sandbox = open_sandbox(self.config.sandbox)

    async def asolve(
        self, problem: str | Problem, *, kind: TaskKind | None = None, on_event: EventSink | None = None
    ) -> SolveResult:
        """Solve one problem with the team; `on_event` receives the trace as it happens."""
        loop = XolverLoop(self.client, self.config, store=self.store, sandbox=self.sandbox, on_event=on_event)
        return await loop.run(as_problem(problem, kind))

    def solve(
        self, problem: str | Problem, *, kind: TaskKind | None = None, on_event: EventSink | None = None
    ) -> SolveResult:
        return run_sync(self.asolve(problem, kind=kind, on_event=on_event))

    async def asolve_many(
        self,
        problems: Iterable[str | Problem],
        *,
        concurrency: int = 4,
        on_result: Callable[[SolveResult | BaseException], Awaitable[None] | None] | None = None,
        return_exceptions: bool = False,
    ) -> list[SolveResult | BaseException]:
        """Solve many problems, `concurrency` at a time; results come back in input order.

        With `return_exceptions`, a problem that fails yields its exception and the others go on;
        otherwise the first failure cancels the rest and is raised.
        """
        items = [as_problem(p) for p in problems]
        if concurrency < 1:
            raise UserInputError("concurrency must be at least 1")
        gate = asyncio.Semaphore(concurrency)
        results: list[SolveResult | BaseException] = [RuntimeError("not run")] * len(items)

        async def one(index: int, problem: Problem) -> None:
            async with gate:
                try:
                    results[index] = await self.asolve(problem)
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    results[index] = exc
            if on_result is not None:
                outcome = on_result(results[index])
                if outcome is not None:
                    await outcome

        async with asyncio.TaskGroup() as group:
            for index, problem in enumerate(items):
                group.create_task(one(index, problem))
        return results

    def solve_many(
        self,
        problems: Iterable[str | Problem],
        *,
        concurrency: int = 4,
        return_exceptions: bool = False,
    ) -> list[SolveResult | BaseException]:
        return run_sync(self.asolve_many(problems, concurrency=concurrency, return_exceptions=return_exceptions))

    def evaluator(self, method: str = "xolver", *, dataset: str | None = None) -> Evaluator:
        """Solve-and-grade for batch runs (`run_benchmark`) with this instance's model, memory and sandbox;
        `method` is `xolver` or a baseline (`direct`, `cot`, `sc`, `self-refine`) on the same model."""
        store = self.store if method == "xolver" else None
        solve = make_method(method, self.client, self.config, store=store, sandbox=self.sandbox)
        return Evaluator(method, solve, Grader(self.sandbox), dataset=dataset)

    def close(self) -> None:
        """Stop the embedded model server, if this process started one, and the sandbox's containers."""
        stop_embedded_servers()
        close = getattr(self.sandbox, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Xolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def solve(problem: str | Problem, **overrides: Any) -> SolveResult:
    """Solve one problem with the configuration from xolver.toml / XOLVER_* / `overrides`."""
    with Xolver(load_config(**overrides)) as xolver:
        return xolver.solve(problem)


def solve_many(
    problems: Iterable[str | Problem], *, concurrency: int = 4, **overrides: Any
) -> list[SolveResult | BaseException]:
    """Solve many problems concurrently; failures come back as exceptions in their place."""
    with Xolver(load_config(**overrides)) as xolver:
        return xolver.solve_many(problems, concurrency=concurrency, return_exceptions=True)
