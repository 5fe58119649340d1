"""The methods a run can compare, each built on the same model client, and the evaluator that runs one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from xolver.bench.graders import Grader
from xolver.bench.runner import Evaluator, Solve
from xolver.config import XolverConfig
from xolver.llm.base import Model
from xolver.llm.client import ModelClient
from xolver.llm.embedded import stop_embedded_servers
from xolver.memory import open_store
from xolver.memory.base import ExperienceStore
from xolver.sandbox import open_sandbox
from xolver.sandbox.base import Sandbox
from xolver.schema import AgentRole, MethodName, Problem, SolveResult
from xolver.team.baselines import BASELINES
from xolver.team.loop import XolverLoop

METHODS: tuple[str, ...] = get_args(MethodName)


def make_method(
    name: str,
    client: ModelClient,
    config: XolverConfig,
    *,
    store: ExperienceStore | None = None,
    sandbox: Sandbox | None = None,
) -> Solve:
    """`xolver` is the team (with memory and sandbox when given); the rest are the single-model baselines."""
    if name == "xolver":

        async def solve(problem: Problem) -> SolveResult:
            return await XolverLoop(client, config, store=store, sandbox=sandbox).run(problem)

        return solve
    if name not in BASELINES:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return BASELINES[name](client, config).run


@dataclass
class EvaluatorFactory:
    """Everything needed to build an `Evaluator` in another process (a Ray worker): plain, picklable data.

    `model` replaces the configured models (a `ScriptedModel` in tests). Memory is opened only for
    `xolver`; a sandbox for the team only for `xolver`, and for grading whenever a set has code problems.
    """

    method: str
    config: dict[str, Any]
    dataset: str | None = None
    grade_code: bool = False
    model: Model | Mapping[AgentRole, Model] | None = None
    owned: list[Any] = field(default_factory=list, repr=False)

    def __call__(self) -> Evaluator:
        config = XolverConfig.model_validate(self.config)
        client = ModelClient.from_config(config, self.model)
        team = self.method == "xolver"
        store = open_store(config) if team and config.memory else None
        sandbox = open_sandbox(config.sandbox) if team and config.sandbox != "none" else None
        grading = sandbox
        if grading is None and self.grade_code:
            grading = open_sandbox("auto")
        grader = Grader(grading)
        self.owned.extend(dict.fromkeys(x for x in (sandbox, grading, grader) if x is not None))
        solve = make_method(self.method, client, config, store=store, sandbox=sandbox)
        return Evaluator(self.method, solve, grader, dataset=self.dataset)

    def close(self) -> None:
        """Stop what the evaluators built here started: the embedded model server, sandbox containers."""
        stop_embedded_servers()
        for owned in self.owned:
            close = getattr(owned, "close", None)
            if close is not None:
                close()
        self.owned.clear()
