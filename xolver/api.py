"""The Python API: `Xolver(config).solve(problem)`, its async twin, and batch helpers.

Async is the only implementation; the sync methods run it through `run_sync`, which refuses to solve
inside a running event loop (Jupyter, async code) and says to `await` the async method instead.
A `Xolver` is a thin face over one `Runtime`: `async with Xolver() as team` or `with Xolver() as team`
closes what it opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from xolver.aio import first_error, run_sync
from xolver.bench.runner import Evaluator
from xolver.config import XolverConfig, load_config, validation_message
from xolver.errors import ConfigError, UserInputError
from xolver.llm.base import Model
from xolver.memory.base import ExperienceStore
from xolver.runtime import Runtime
from xolver.sandbox.base import Sandbox
from xolver.schema import AgentRole, MethodName, Problem, SandboxBackend, SolveResult, TaskKind
from xolver.team.loop import EventSink

_IN_LOOP = "use the async method instead, e.g. `await xolver.asolve(problem)`"
CONTEXT_TURNS = 3  # earlier turns a follow-up carries: enough to resolve "that", short enough for every agent


def as_problem(problem: str | Problem, kind: TaskKind | None = None) -> Problem:
    """A `Problem` from text or a `Problem`; `kind` overrides the problem's own."""
    if isinstance(problem, Problem):
        return problem if kind is None else problem.model_copy(update={"kind": kind})
    if not isinstance(problem, str) or not problem.strip():
        raise UserInputError("a problem must be non-empty text or a Problem")
    try:
        return Problem(text=problem.strip(), kind=kind or "math")
    except ValidationError as exc:
        raise UserInputError(f"not a valid problem: {validation_message(exc)}") from exc


def in_conversation(
    question: str,
    turns: Sequence[tuple[str, str | None]] = (),
    *,
    instructions: str = "",
    kind: TaskKind | None = None,
) -> Problem:
    """The problem a question poses in a conversation: standing instructions and the last few (question,
    answer) turns come first, so every agent reads a follow-up such as "and that minus 63?" in context."""
    context = "\n".join(f"Q: {q}\nA: {'(no answer)' if a is None else a}" for q, a in turns[-CONTEXT_TURNS:])
    parts = [f"Instructions:\n{instructions.strip()}"] if instructions.strip() else []
    if context:
        parts.append(f"Conversation so far:\n{context}")
    text = "\n\n".join([*parts, f"New question: {question.strip()}"]) if parts else question
    return as_problem(text, kind)


class Xolver:
    """A team ready to solve problems: one runtime (model client, experience store, sandbox, grader)
    shared by every solve.

    `store` defaults to the configured persistent memory (`memory=False` for none), and `sandbox` to
    the configured backend (a backend's name, e.g. `sandbox="none"`: then no agent code runs, or a
    `Sandbox` object); objects passed in stay the caller's. `model` is a litellm model string (a
    configuration override, like every keyword), or a `Model` object such as `ScriptedModel` (or a
    mapping of one per role) that replaces the configured models.
    """

    def __init__(
        self,
        config: XolverConfig | None = None,
        *,
        model: str | Model | Mapping[AgentRole, Model] | None = None,
        store: ExperienceStore | None = None,
        sandbox: Sandbox | SandboxBackend | None = None,
        **overrides: Any,
    ) -> None:
        if isinstance(model, str):
            overrides["model"], model = model, None
        if isinstance(sandbox, str):  # a backend's name is a setting, like a model string
            overrides["sandbox"], sandbox = sandbox, None
        base = config if config is not None else load_config()
        try:
            self.config = base.changed(**overrides) if overrides else base
        except ValidationError as exc:
            raise ConfigError(f"invalid configuration: {validation_message(exc)}") from exc
        self.runtime = Runtime(self.config, model=model, store=store, sandbox=sandbox)

    @property
    def store(self) -> ExperienceStore | None:
        return self.runtime.store

    @property
    def sandbox(self) -> Sandbox | None:
        return self.runtime.sandbox

    async def asolve(
        self, problem: str | Problem, *, kind: TaskKind | None = None, on_event: EventSink | None = None
    ) -> SolveResult:
        """Solve one problem with the team; `on_event` receives the trace as it happens."""
        return await self.runtime.solve(as_problem(problem, kind), on_event=on_event)

    def solve(
        self, problem: str | Problem, *, kind: TaskKind | None = None, on_event: EventSink | None = None
    ) -> SolveResult:
        return run_sync(self.asolve(problem, kind=kind, on_event=on_event), in_loop=_IN_LOOP)

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

        try:
            async with asyncio.TaskGroup() as group:
                for index, problem in enumerate(items):
                    group.create_task(one(index, problem))
        except ExceptionGroup as failure:
            raise first_error(failure) from None
        return results

    def solve_many(
        self,
        problems: Iterable[str | Problem],
        *,
        concurrency: int = 4,
        return_exceptions: bool = False,
    ) -> list[SolveResult | BaseException]:
        return run_sync(
            self.asolve_many(problems, concurrency=concurrency, return_exceptions=return_exceptions), in_loop=_IN_LOOP
        )

    def evaluator(self, method: MethodName = "xolver", *, dataset: str | None = None) -> Evaluator:
        """Solve-and-grade for batch runs (`run_benchmark`) on this team's runtime; `method` is `xolver` or
        a baseline (`direct`, `cot`, `sc`, `self-refine`) on the same model, with the services it uses."""
        return Evaluator.of(self.runtime, method, dataset=dataset)

    def reconfigured(self, **changes: Any) -> Xolver:
        """A team with `changes` applied that shares this one's store, sandbox and (unless the models change)
        model client; close it as well as this one."""
        team = object.__new__(Xolver)
        team.runtime = self.runtime.reconfigured(**changes)
        team.config = team.runtime.config
        return team

    async def aclose(self) -> None:
        """Close what this team opened: its models' server leases, the store, sandbox containers, the grader."""
        await self.runtime.aclose()

    def close(self) -> None:
        run_sync(self.aclose())

    def __enter__(self) -> Xolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Xolver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


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
