"""The runtime: the one place where a run's services are chosen, opened, shared, limited and closed.

A `Runtime` builds the model client, the experience store, the sandbox and the grader a method needs,
closes exactly what it built (and so returns the leases its models hold on an embedded server) in reverse
order, and leaves objects a caller passed in (a `ScriptedModel`, a store, a sandbox) to that caller. The
Python API, batch runs (local and in Ray workers), chat and the CLI all go through it.

    async with Runtime(load_config(), method="xolver") as runtime:
        result = await runtime.solve(problem)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from importlib.resources import files
from pathlib import Path
from typing import get_args

from xolver.aio import LoopLimit, run_sync
from xolver.errors import ConfigError, UserInputError
from xolver.llm.base import Model
from xolver.llm.client import ModelClient
from xolver.memory import open_store
from xolver.memory.base import ExperienceStore
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.jsonl import read_experiences
from xolver.sandbox import open_sandbox
from xolver.sandbox.base import Sandbox
from xolver.sandbox.wrappers import LimitedSandbox, run_log
from xolver.schema import AgentRole, MethodName, Problem, Settings, SolveResult
from xolver.team.baselines import BASELINES, Cheatsheet, Sheet
from xolver.team.loop import EventSink, XolverLoop
from xolver.telemetry import SolveTracing, open_tracing
from xolver.tools.grading import Grader

METHODS: tuple[MethodName, ...] = get_args(MethodName)
Solve = Callable[[Problem], Awaitable[SolveResult]]
ModelSource = Model | Mapping[AgentRole, Model] | ModelClient


def method_settings(settings: Settings, method: MethodName) -> Settings:
    """The settings `method` runs with, whatever path started it: the team's own; a baseline uses no
    memory, recollection, retrieval or tools, and only `sc` draws several samples."""
    if method not in METHODS:
        raise UserInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "xolver":
        return settings.changed(cheatsheet_file=None)
    return settings.changed(
        memory="off", recall=False, exemplars=0, retrieval="none", sandbox="none", seed_bank="none",
        samples=settings.samples if method == "sc" else 1,
        cheatsheet_file=settings.cheatsheet_file if method == "cheatsheet" else None,
    )  # fmt: skip


def seed_banks(name: str) -> list[Path]:
    """The JSONL files a `seed_bank` setting names: every bank shipped (`default`), none, or one file."""
    if name == "none":
        return []
    if name == "default":
        return sorted(Path(str(p)) for p in files("xolver.banks").iterdir() if p.name.endswith(".jsonl"))
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"seed bank not found: {name} (give a JSONL file, 'default' or 'none')")
    return [path]


async def _seed_store(store: ChromaExperienceStore, seed_bank: str) -> None:
    """Import the seed bank into `store` if it is empty: once per store, before anyone learns into it."""
    if await store.count() == 0:
        for bank in seed_banks(seed_bank):
            experiences, _ = read_experiences(bank)
            await store.add(experiences)


async def seed_shared_store(config: Settings) -> None:
    """Seed the configured store for processes about to share it: here, once, before they start (each would
    find it empty and import the bank again)."""
    store = open_store(config)
    try:
        await _seed_store(store, config.seed_bank)
    finally:
        await store.aclose()


class Runtime:
    """The services of one run, built from `config` for `method`.

    `model` replaces the configured models (a `ScriptedModel`, a mapping of one per role, or another
    runtime's `ModelClient` to share it); `store` and `sandbox` replace the configured ones. Those stay the
    caller's: `aclose()` closes only what the runtime built.
    """

    def __init__(
        self,
        config: Settings,
        *,
        method: MethodName = "xolver",
        model: ModelSource | None = None,
        store: ExperienceStore | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.method = method
        self.config = method_settings(config, method)
        self._stack = AsyncExitStack()
        self._seeding = LoopLimit(1)
        self._seeded = True  # until the runtime opens a store of its own: a store passed in is not seeded
        self.sheet = Sheet(self.config.cheatsheet_file) if method == "cheatsheet" else None
        try:
            self.client = self._client(model)
            self.store = self._store(store)
            self.sandbox = self._sandbox(sandbox)
            self.grader = self._grader()
            self.tracing = self._tracing()
        except BaseException:
            run_sync(self._stack.aclose())  # what was built before the failure is closed again
            raise

    def _client(self, model: ModelSource | None) -> ModelClient:
        if isinstance(model, ModelClient):
            return model
        client = ModelClient.from_config(self.config, model)
        self._stack.push_async_callback(client.aclose)  # closes only the models it built itself
        return client

    def _store(self, store: ExperienceStore | None) -> ExperienceStore | None:
        if self.config.memory == "off":  # authoritative: no memory, even when a store was passed in
            return None
        if store is not None:
            return store
        seed_banks(self.config.seed_bank)  # a missing bank file is an error now, not at the first solve
        opened = open_store(self.config)
        self._stack.push_async_callback(opened.aclose)
        self._seeded = self.config.seed_bank == "none"
        return opened

    async def _seed(self) -> None:
        """Import the seed bank into the store this runtime opened, once, if the store is empty."""
        if self._seeded:
            return
        async with self._seeding.slot():
            if self._seeded:
                return
            if isinstance(self.store, ChromaExperienceStore):
                await _seed_store(self.store, self.config.seed_bank)
            self._seeded = True

    def _sandbox(self, sandbox: Sandbox | None) -> Sandbox | None:
        limit = self.config.sandbox_concurrency
        if sandbox is not None:
            return LimitedSandbox(sandbox, limit)  # the limit is ours; the sandbox stays the caller's
        if self.config.sandbox == "none":
            return None
        opened = LimitedSandbox(open_sandbox(self.config.sandbox), limit)
        self._stack.push_async_callback(opened.aclose)
        return opened

    def _grader(self) -> Grader:
        """Code is graded in the run's sandbox, or, when the method runs no code, in one opened on the
        first code problem (`auto`: Docker, else processes)."""
        sandbox = self.sandbox
        if sandbox is None:
            sandbox = LimitedSandbox.opening(lambda: open_sandbox("auto"), self.config.sandbox_concurrency)
            self._stack.push_async_callback(sandbox.aclose)
        grader = Grader(sandbox, timeout=self.config.sandbox_timeout)
        self._stack.push_async_callback(grader.aclose)
        return grader

    def _tracing(self) -> SolveTracing | None:
        """OpenTelemetry export when the `OTEL_*` variables (or the application) ask for it."""
        tracing = open_tracing()
        if tracing is not None:
            self._stack.push_async_callback(tracing.aclose)
        return tracing

    def solver(self, method: MethodName | None = None, *, on_event: EventSink | None = None) -> Solve:
        """How `method` (this runtime's by default) solves a problem, with the services that method uses.

        Each result holds the solve's sandbox runs beside its model calls; with tracing on, each solve is a trace.
        """
        method = method or self.method
        settings = method_settings(self.config, method)
        if self.tracing is not None:
            on_event = self.tracing.listening(on_event)
        if method == "cheatsheet":
            self.sheet = self.sheet or Sheet(settings.cheatsheet_file)
            solve: Solve = Cheatsheet(self.client, settings, self.sheet).run
        elif method == "xolver":
            solve = XolverLoop(self.client, settings, store=self.store, sandbox=self.sandbox, on_event=on_event).run
        else:
            solve = BASELINES[method](self.client, settings).run

        async def recorded(problem: Problem) -> SolveResult:
            if method == "xolver":
                await self._seed()
            with run_log() as runs:
                result = await solve(problem)
            return result.model_copy(update={"runs": runs})

        return recorded if self.tracing is None else self.tracing.traced(recorded)

    async def solve(self, problem: Problem, *, on_event: EventSink | None = None) -> SolveResult:
        """Solve with this runtime's method; every method sees only the problem's public view."""
        return await self.solver(on_event=on_event)(problem)

    def reconfigured(self, **changes: object) -> Runtime:
        """A runtime with `changes` applied that shares this one's store and sandbox, and its model client
        unless the change is to the models (memory `off` leaves the store out, as always). Closing it closes only
        what it built."""
        config = self.config.changed(**changes)
        model_fields = {"model", "models", "api_base", "api_key", "endpoints", "routing", "timeout", "retries"}
        model = None if model_fields & changes.keys() else self.client
        return Runtime(config, method=self.method, model=model, store=self.store, sandbox=self.sandbox)

    async def aclose(self) -> None:
        """Close what this runtime built, in reverse order; a second call does nothing."""
        await self._stack.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
