"""The Xolver loop: retrieve, plan, iterate (solve and judge in parallel), verify, learn.

The loop sees only the public view of a problem, whoever calls it. One deadline (`solve_deadline`)
covers the whole solve: a phase it cuts short falls back (no exemplars, stock roles, no more rounds, an
unverified answer, nothing learned) and the solve returns what it has, with `stop_reason = "deadline"`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from xolver.aio import first_error
from xolver.errors import ModelError
from xolver.llm.client import ModelClient
from xolver.llm.usage import call_log, usage_scope
from xolver.memory.base import ExperienceStore
from xolver.sandbox.base import Sandbox
from xolver.schema import (
    AgentStarted,
    Candidate,
    CandidateReady,
    Experience,
    IterationDone,
    IterationRecord,
    Judged,
    MemoryWritten,
    PlanReady,
    Problem,
    Role,
    Settings,
    SolveResult,
    StopReason,
    TraceEvent,
    Usage,
    Verification,
    Verified,
    new_id,
)
from xolver.team.decision import answer_key
from xolver.team.judge import Judge
from xolver.team.memory_agents import Learner, Recaller
from xolver.team.planner import Planner, fallback_roles
from xolver.team.shared import SharedMemory
from xolver.team.solver import Solver, analogies, render_shared
from xolver.team.verifier import Verifier

EventSink = Callable[[TraceEvent], Awaitable[None] | None]


class XolverLoop:
    """One solve of one problem by the team. Services are passed in; the loop picks no implementation."""

    def __init__(
        self,
        client: ModelClient,
        config: Settings,
        *,
        store: ExperienceStore | None = None,
        sandbox: Sandbox | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.store = store
        self.on_event = on_event
        self.planner = Planner(client, config)
        self.solver = Solver(client, config, sandbox)
        self.judge = Judge(client, config, sandbox)
        self.verifier = Verifier(client, config, sandbox)
        self.recaller = Recaller(client, config)
        self.learner = Learner(client, config)

    async def _emit(self, event: TraceEvent) -> None:
        if self.on_event is not None:
            outcome = self.on_event(event)
            if outcome is not None:
                await outcome

    async def run(self, problem: Problem) -> SolveResult:
        problem = problem.public_view()
        run_id = new_id()
        started = time.perf_counter()
        until = None if self.config.solve_deadline is None else asyncio.get_running_loop().time()
        until = None if until is None else until + self.config.solve_deadline
        late = False
        with usage_scope() as usage, call_log() as calls:
            exemplars: list[Experience] = []
            roles = fallback_roles(problem.kind, self.config.agents, [])
            try:
                async with asyncio.timeout_at(until):
                    exemplars = await self._retrieve(problem)
                    roles = await self.planner.plan(problem, self.config.agents)
            except TimeoutError:
                late = True
            await self._emit(PlanReady(problem_id=problem.id, roles=roles, exemplars=len(exemplars)))
            profile = self.config.profile_for(self.client.model_name("solver"))
            weight = self.config.vote_judge_weight(self.client.model_name("judge"))
            shared = SharedMemory(self.config.agents, by_tests=problem.kind == "code", profile=profile,
                                  judge_weight=weight)  # fmt: skip
            iterations: list[IterationRecord] = []
            stop_reason: StopReason = "deadline"
            if not late:
                stop_reason = await self._iterate(problem, roles, exemplars, shared, iterations, usage, until)
            answer, verification = await self._verify(problem, shared, until)
            await self._emit(Verified(problem_id=problem.id, answer=answer, verification=verification))
            writes = await self._learn(problem, shared, verification, run_id, exemplars, until)
            if writes:
                await self._emit(MemoryWritten(problem_id=problem.id, ids=writes))
        return SolveResult(
            run_id=run_id,
            problem=problem,
            answer=answer,
            code=shared.best.code if shared.best else None,
            verified=verification.passed,
            verification=verification,
            roles=roles,
            iterations=iterations,
            stop_reason=stop_reason,
            exemplars=exemplars,
            memory_writes=writes,
            judge_failures=sum(
                1
                for record in iterations
                for c in record.candidates
                if c.error is None and c.judgement is not None and c.judgement.status != "scored"
            ),
            usage=usage,
            calls=calls,
            wall_seconds=time.perf_counter() - started,
            config=self.config.run_config(self.client.model_names()),
        )

    async def _verify(
        self, problem: Problem, shared: SharedMemory, until: float | None
    ) -> tuple[str | None, Verification]:
        """The verifier's answer and check; past the deadline, the best answer so far, unverified.

        The independent check runs first (math, once per solve): when the vote is tied, the answer it printed
        wins (the decision rule's `check` tie-break), and the chosen answer's evidence reuses it."""
        try:
            async with asyncio.timeout_at(until):
                check = None
                if problem.kind == "math" and shared.best is not None:
                    check = await self.verifier.check(problem)
                    if len(tied := shared.contenders()) > 1 and check.value is not None:
                        shared.settle({answer: await self.verifier.agrees(check, answer) for answer in tied})
                return await self.verifier.finalize(problem, shared.best, shared.kept, check=check)
        except TimeoutError:
            best = shared.best
            answer = None if best is None else (best.code if problem.kind == "code" else best.answer)
            late = "the solve deadline came before verification"
            return answer, Verification(method="none", passed=False, detail=late)

    async def _learn(
        self,
        problem: Problem,
        shared: SharedMemory,
        verification: Verification,
        run_id: str,
        exemplars: list[Experience],
        until: float | None,
    ) -> list[str]:
        """Write what a verified solve taught; the lesson is drawn within the deadline, and a lesson drawn is
        stored whole (a store write is quick and must not be cut in half)."""
        if self.store is None or self.config.memory != "learn":  # read-only: a fixed corpus, never written
            return []
        await self.learner.record_use(self.store, exemplars, success=verification.passed)
        try:
            async with asyncio.timeout_at(until):
                lesson = await self.learner.lesson(problem, shared.best, verification, run_id=run_id)
        except TimeoutError:
            return []
        return await self.store.add(lesson) if lesson else []

    async def _retrieve(self, problem: Problem) -> list[Experience]:
        """Exemplars of k other solved problems from memory, each with its strategy and code attached (never
        the problem itself); when memory has nothing relevant, the model's own recollection."""
        if self.config.exemplars == 0 or self.config.retrieval == "none":
            return []
        exemplars: list[Experience] = []
        if self.store is not None:
            hits = await self.store.search(
                problem.text, k=self.config.exemplars, task_kind=problem.kind, exclude=problem.text
            )
            exemplars = [record for hit in hits for record in hit.records]
        if not exemplars and self.config.recall:
            exemplars = await self.recaller.recall(problem)
        return exemplars

    async def _iterate(
        self,
        problem: Problem,
        roles: list[Role],
        exemplars: list[Experience],
        shared: SharedMemory,
        iterations: list[IterationRecord],
        usage: Usage,
        until: float | None,
    ) -> StopReason:
        """Run up to I rounds; returns why it stopped. The deadline or a spent token budget ends the
        rounds, not the solve: the team's best so far is verified and returned."""
        previous: dict[int, Candidate] = {}
        try:
            async with asyncio.timeout_at(until):
                for index in range(self.config.iterations):
                    if index > 0 and spent(usage, self.config.budget):
                        return "budget"
                    shared_text = render_shared(shared.kept)
                    shown = {c.id for c in shared.kept}
                    answers = {key for c in shared.kept if (key := answer_key(c)) is not None}
                    turns = [
                        self._turn(problem, role, agent, index, exemplars, shared_text, previous, shown, answers)
                        for agent, role in enumerate(roles)
                    ]
                    if index == 0:
                        turns += self._analogies(problem, exemplars, first_agent=len(roles))
                    candidates = await gather_turns(turns)
                    if all(c.error is not None for c in candidates) and not all(c.cut for c in candidates):
                        raise ModelError(f"every solver call of iteration {index + 1} failed: {candidates[0].error}")
                    previous = {c.agent: c for c in candidates}
                    shared.update(candidates)
                    best = shared.best
                    record = IterationRecord(
                        index=index,
                        candidates=candidates,
                        kept=[c.id for c in shared.kept],
                        best_answer=best.answer or best.code if best else None,
                        best_score=best.score if best else None,
                    )
                    iterations.append(record)
                    await self._emit(
                        IterationDone(
                            problem_id=problem.id,
                            index=index,
                            best_answer=record.best_answer,
                            best_score=record.best_score,
                        )
                    )
                    if shared.converged():
                        return "converged"
                    if index + 1 < self.config.iterations and shared.stable(self.config.patience):
                        return "stable"
        except TimeoutError:
            return "deadline"
        return "max_iterations"

    async def _turn(
        self,
        problem: Problem,
        role: Role,
        agent: int,
        index: int,
        exemplars: list[Experience],
        shared: str,
        previous: dict[int, Candidate],
        shown: set[str],
        answers: set[str],
    ) -> Candidate:
        """One agent's turn: attempt, then judge at once, so judging overlaps the slower solvers. The candidate
        records the answers its agent was shown (`answers` in the shared memory, its own last one)."""
        await self._emit(AgentStarted(problem_id=problem.id, role=role.name, agent=agent, iteration=index))
        last = previous.get(agent)
        candidate = await self.solver.attempt(
            problem,
            role,
            agent=agent,
            iteration=index,
            exemplars=exemplars,
            shared=shared,
            previous=last,
            previous_shown=last is not None and last.id in shown,
        )
        if problem.kind != "code":
            saw = answers | ({key} if last is not None and (key := answer_key(last)) is not None else set())
            candidate = candidate.model_copy(update={"saw": sorted(saw)})
        return await self._judged(problem, candidate)

    def _analogies(
        self, problem: Problem, exemplars: list[Experience], *, first_agent: int
    ) -> list[Coroutine[Any, Any, Candidate]]:
        """The first round's extra candidates: retrieved solved programs rebound to this problem's numbers,
        run and judged beside the agents' attempts (numbered after them)."""
        if not self.config.analogy or self.solver.sandbox is None:
            return []
        return [
            self._analogy(problem, program, solved, agent=first_agent + i)
            for i, (program, solved) in enumerate(analogies(exemplars, problem))
        ]

    async def _analogy(self, problem: Problem, program: str, solved: str, *, agent: int) -> Candidate:
        return await self._judged(problem, await self.solver.analogy(program, solved, agent=agent))

    async def _judged(self, problem: Problem, candidate: Candidate) -> Candidate:
        await self._emit(CandidateReady(problem_id=problem.id, candidate=candidate))
        judgement = await self.judge.judge(problem, candidate)
        await self._emit(Judged(problem_id=problem.id, judgement=judgement, role=candidate.role))
        return candidate.model_copy(update={"judgement": judgement})


async def gather_turns(turns: list[Coroutine[Any, Any, Candidate]]) -> list[Candidate]:
    """The turns of one round, in parallel. A turn never fails for a model's failure (that is recorded on its
    candidate); one that raises (an unreachable model) ends the round, raised as itself, not as a group."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(turn) for turn in turns]
    except ExceptionGroup as failure:
        raise first_error(failure) from None
    return [task.result() for task in tasks]


def spent(usage: Usage, budget: int | None) -> bool:
    """Whether a problem has used up its token budget, so no new round or sample should start."""
    return budget is not None and usage.total_tokens >= budget


__all__ = ["EventSink", "XolverLoop", "spent"]
