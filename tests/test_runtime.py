"""The runtime: one place builds a run's services, closes exactly those in reverse order, bounds the
sandbox, carries the whole-solve deadline, and keeps references away from every method."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

import pytest
from helpers import good_team, make_xolver, planner_reply, printing_sandbox

from xolver import Experience, InMemoryExperienceStore, Problem, TestCase, Xolver
from xolver.bench.batch import RunSpec, run_batch
from xolver.bench.report import summarize
from xolver.bench.runner import Evaluator, run_benchmark
from xolver.config import XolverConfig
from xolver.errors import ConfigError
from xolver.llm.base import ModelRequest
from xolver.llm.testing import ScriptedModel, scripted_team
from xolver.runtime import Runtime
from xolver.sandbox.base import ExecResult, Limits
from xolver.sandbox.testing import ScriptedSandbox
from xolver.tools.grading import Grader

FAST = {"retries": 0, "timeout": 5.0, "recall": False, "memory": False, "sandbox": "none", "agents": 2}


class Recorder(ScriptedSandbox):
    """A sandbox (or a store: the runtime only closes it) that writes its closing into a shared log."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(lambda code, stdin: "")
        self.name = name
        self.log = log

    async def aclose(self) -> None:
        self.log.append(self.name)


async def test_a_runtime_closes_what_it_built_in_reverse_order(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    monkeypatch.setattr("xolver.runtime.open_store", lambda config: Recorder("store", log))
    monkeypatch.setattr("xolver.runtime.open_sandbox", lambda backend: Recorder("sandbox", log))
    original = Grader.aclose

    async def grader_closed(self: Grader) -> None:
        log.append("grader")
        await original(self)

    monkeypatch.setattr(Grader, "aclose", grader_closed)
    model = ScriptedModel(lambda r: "")
    async with Runtime(XolverConfig(memory=True, sandbox="process"), model=model) as runtime:
        assert runtime.store is not None and runtime.sandbox is not None
    assert log == ["grader", "sandbox", "store"]
    await runtime.aclose()
    assert log == ["grader", "sandbox", "store"], "a second close does nothing"
    assert model.closed == 0, "a model passed in stays the caller's"


async def test_what_a_caller_passes_in_stays_open() -> None:
    store, sandbox, model = InMemoryExperienceStore(), ScriptedSandbox(lambda code, stdin: "1"), good_team()
    settings = {k: v for k, v in FAST.items() if k != "sandbox"}
    async with Xolver(model=model, store=store, sandbox=sandbox, **settings) as team:
        await team.asolve("What is 347 times 29?")
    assert sandbox.closed == 0 and model.closed == 0


async def test_a_failure_while_opening_closes_what_was_already_open(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    monkeypatch.setattr("xolver.runtime.open_store", lambda config: Recorder("store", log))

    def no_sandbox(backend: str) -> None:
        raise ConfigError("no sandbox backend can run here")

    monkeypatch.setattr("xolver.runtime.open_sandbox", no_sandbox)
    with pytest.raises(ConfigError):
        Runtime(XolverConfig(memory=True, sandbox="docker"), model=ScriptedModel(lambda r: ""))
    assert log == ["store"]


def test_services_are_built_in_one_place() -> None:
    """grep: only the runtime opens a store, a sandbox, a model client from configuration or a grader."""
    builders = re.compile(r"\b(open_store|open_sandbox|ModelClient\.from_config|Grader)\(")
    package = Path(__file__).parents[1] / "xolver"
    callers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if any(builders.search(line) and not line.lstrip().startswith(("def ", "class ")) for line in path.open())
    )
    assert callers == ["runtime.py"]


async def test_a_baseline_records_the_same_configuration_whichever_path_ran_it(tmp_path: Path) -> None:
    problem = Problem(id="q", text="What is 2 times 3?", answer="6")
    model = ScriptedModel(lambda r: "\\boxed{6}")
    config = XolverConfig(**{**FAST, "memory": True, "recall": True, "memory_dir": tmp_path / "m"})
    spec = RunSpec(config, method="direct", dataset="toy", model=model)
    (from_batch,) = await run_batch(spec, [problem], tmp_path / "batch.jsonl")
    async with Xolver(config, model=model, store=InMemoryExperienceStore()) as team:
        from_api = await team.evaluator("direct", dataset="toy").evaluate(problem)
    assert from_batch.config is not None and from_api.config is not None
    assert from_batch.config.settings == from_api.config.settings
    settings = from_batch.config.settings
    assert settings.memory == "off" and not settings.recall and settings.exemplars == 0 and settings.sandbox == "none"
    assert not (tmp_path / "m").exists(), "a baseline never opens the store"


async def test_the_team_never_sees_references_whoever_calls_it() -> None:
    problem = Problem(
        id="c", text="Read n and print n squared.", kind="code", answer="SECRET-ANSWER",
        tests=[TestCase(input="2\n", output="4\n"), TestCase(input="777\n", output="603729\n", hidden=True)],
        test_code="def check(f): assert f(3) == 9  # SECRET-CHECK", entry_point="f",
        metadata={"solution": "SECRET-SOLUTION"},
    )  # fmt: skip
    reply = "```python\nn = int(input())\nprint(n * n)\n```"
    model = scripted_team(planner=planner_reply, coder=reply, judge="Score: 1", verifier=reply)
    sandbox = ScriptedSandbox(lambda code, stdin: "4\n")
    result = await make_xolver(model, sandbox=sandbox, iterations=1).asolve(problem)
    prompts = "\n".join(r.prompt for r in model.requests)
    assert "SECRET" not in prompts and "603729" not in prompts
    assert all(stdin != "777\n" and "SECRET" not in code for code, stdin in sandbox.runs)
    assert result.problem.answer is None and result.problem.tests == [problem.tests[0]]


async def test_the_deadline_covers_retrieval_and_planning() -> None:
    class SlowStore(InMemoryExperienceStore):
        async def search(self, *args: object, **kwargs: object) -> list:
            await asyncio.sleep(30)
            return []

    started = time.perf_counter()
    team = make_xolver(good_team(), store=SlowStore(), solve_deadline=0.5, memory=True)
    result = await team.asolve("What is 347 times 29?")
    assert time.perf_counter() - started < 2.0
    assert result.stop_reason == "deadline" and result.iterations == [] and not result.verified
    assert all(role.source == "fallback" for role in result.roles)


async def test_the_deadline_covers_verification_and_learning() -> None:
    async def slow_verifier(request: ModelRequest) -> str:
        await asyncio.sleep(30)
        return "\\boxed{1}"

    model = scripted_team(
        planner=planner_reply, solver="I think it is about ten thousand.", judge="Score: 1", verifier=slow_verifier
    )
    store = InMemoryExperienceStore()
    started = time.perf_counter()
    result = await make_xolver(model, store=store, iterations=1, solve_deadline=1.0).asolve("347 * 29?")
    assert time.perf_counter() - started < 2.5
    assert not result.verified and "deadline" in result.verification.detail
    assert store.experiences == {} and result.memory_writes == []


class CountingSandbox:
    """Counts programs in flight."""

    name = "counting"

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    async def run(self, code: str, *, stdin: str | None = None, files: dict[str, str] | None = None,
                  timeout: float = 10.0, limits: Limits | None = None) -> ExecResult:  # fmt: skip
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.05)
        self.now -= 1
        return ExecResult(stdout="4\n", exit_code=0, backend=self.name)

    async def aclose(self) -> None:
        """Holds nothing."""


async def test_the_sandbox_runs_at_most_its_capacity_over_all_solves() -> None:
    sandbox = CountingSandbox()
    model = scripted_team(planner=planner_reply, solver="```python\nprint(2 + 2)\n```", judge="Score: 1")
    team = make_xolver(model, sandbox=sandbox, agents=3, iterations=1, sandbox_concurrency=2)
    await team.asolve_many([f"What is {i} + {4 - i}?" for i in range(4)], concurrency=4)
    assert sandbox.most == 2


def processes_with(marker: str) -> list[str]:
    """Processes on this host (sandboxes' namespaces and containers included) whose command line has `marker`."""
    done = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return done.stdout.split()


@pytest.mark.parametrize("backend", ["process", "docker"])
async def test_a_cancelled_run_kills_its_program(backend: str) -> None:
    """Cancellation reaches every backend: nothing of the program lives on."""
    from xolver.sandbox import open_sandbox

    box = open_sandbox(backend)
    before = containers()
    marker = f"xolver-cancel-{backend}-{time.time_ns()}"  # the program renames itself so the host can find it
    sleep = "import time; time.sleep(60)"
    program = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', '{sleep}', '{marker}'])"
    run = asyncio.ensure_future(box.run(program, timeout=60))
    for _ in range(100):
        if processes_with(marker):
            break
        await asyncio.sleep(0.1)
    assert processes_with(marker) and not run.done()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    for _ in range(50):
        if not processes_with(marker) and containers() <= before:
            break
        await asyncio.sleep(0.1)
    assert processes_with(marker) == [] and containers() <= before
    await box.aclose()


def containers() -> int:
    done = subprocess.run(["docker", "ps", "-q", "--filter", "label=xolver.sandbox"], capture_output=True, text=True)
    return len(done.stdout.split())


async def test_a_crash_is_reported_apart_from_a_wrong_answer(tmp_path: Path) -> None:
    problems = [Problem(id=i, text=f"What is {n} times 3?", answer=str(3 * n)) for i, n in (("a", 1), ("b", 2))]
    problems.append(Problem(id="c", text="What is 347 times 29?", answer="10063"))
    team = make_xolver(good_team(), iterations=1)

    async def solve(problem: Problem):
        if problem.text.startswith("What is 2"):
            raise ConnectionError("the worker was lost")
        return await team.asolve(problem)

    class BrokenGrader(Grader):
        async def grade(self, problem: Problem, answer: str | None) -> bool | None:
            if problem.id == "a":
                raise RuntimeError("math-verify crashed")
            return await super().grade(problem, answer)

    evaluator = Evaluator("xolver", solve, BrokenGrader(), config=team.evaluator().config)
    written = await run_benchmark(problems, evaluator.evaluate, tmp_path / "o.jsonl")
    by_id = {r.id: r for r in written}
    assert (by_id["a"].status, by_id["b"].status, by_id["c"].status) == ("grade_failed", "solve_failed", "graded")
    assert by_id["a"].correct is None and by_id["b"].correct is None and by_id["c"].correct is True
    (summary,) = summarize(written)
    assert (summary.correct, summary.graded, summary.accuracy) == (1, 1, 1.0)
    assert (summary.solve_failures, summary.grade_failures) == (1, 1)


async def test_judge_failures_are_kept_in_batch_records(tmp_path: Path) -> None:
    model = scripted_team(planner=planner_reply, solver="\\boxed{6}", judge="I cannot tell.", verifier="\\boxed{6}")
    team = make_xolver(model, iterations=1)
    (record,) = await run_benchmark(
        [Problem(id="q", text="2*3?", answer="6")], team.evaluator(dataset="toy").evaluate, tmp_path / "o.jsonl"
    )
    assert record.judge_failures == 3 and record.status == "graded"
    assert summarize([record])[0].judge_failures == 3


async def test_async_with_and_close_inside_a_running_loop() -> None:
    async with Xolver(model=good_team(), **FAST) as team:
        assert (await team.asolve("What is 347 times 29?")).answer == "10063"
    other = Xolver(model=good_team(), **FAST)
    other.close()  # a sync close inside a loop (Jupyter) runs through the bridge's helper thread


async def test_a_reconfigured_team_shares_the_services_and_closes_only_its_own() -> None:
    store, model = InMemoryExperienceStore(), good_team()
    team = Xolver(model=model, store=store, **{**FAST, "memory": "learn"})
    bigger = team.reconfigured(agents=3)
    assert bigger.config.agents == 3 and bigger.store is store and bigger.runtime.client is team.runtime.client
    await bigger.aclose()
    assert (await team.asolve("What is 347 times 29?")).answer == "10063"
    await team.aclose()
    with pytest.raises(ConfigError):
        Xolver(model=model, agents=0)


async def test_a_team_reconfigured_without_memory_neither_reads_nor_writes_the_shared_store() -> None:
    seed = Experience(kind="solution", problem="What is 12 times 7?", content=r"12*7=84 \boxed{84}", verified=True)
    store = InMemoryExperienceStore([seed])
    settings = {**FAST, "memory": True, "exemplars": 2, "sandbox": printing_sandbox()}
    async with Xolver(model=good_team(), store=store, **settings) as team:
        forgetful = team.reconfigured(memory=False)
        assert forgetful.store is None and team.store is store
        result = await forgetful.asolve("What is 347 times 29?")
        await forgetful.aclose()
        assert result.verified and result.exemplars == [] and result.memory_writes == []
        assert list(store.experiences) == [seed.id] and seed.uses == 0
        learned = await team.asolve("What is 347 times 29?")  # the control: the same solve with memory
        assert learned.exemplars and learned.memory_writes and len(store.experiences) > 1
