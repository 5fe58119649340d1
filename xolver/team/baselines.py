"""The baselines Xolver is compared with, on the same model, prompts style and harness.

- `direct`: one call, the answer only.
- `cot`: one call, step-by-step reasoning, then the answer.
- `sc`: self-consistency, `samples` chain-of-thought samples and a majority vote over their answers
  (for code, identical programs vote together; no tests are run).
- `self-refine`: a chain-of-thought answer, then up to `iterations` rounds of the model's own feedback
  and a revision; stops early when the feedback finds no mistake.

None of them uses tools, memory or tests. With a token `budget`, `sc` draws its samples in waves of `m`
and `self-refine` starts no new round once the budget is spent, so methods can be compared at equal cost.
Each returns a `SolveResult` like the team's, so the harness, grading and reports treat all methods alike.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections import Counter

from xolver.errors import ModelError
from xolver.llm.usage import call_log, usage_scope
from xolver.schema import (
    Candidate,
    IterationRecord,
    MethodName,
    Problem,
    SolveResult,
    StopReason,
    Usage,
    Verification,
    new_id,
)
from xolver.team.agent import Agent, clip
from xolver.team.loop import spent
from xolver.team.parsing import extract_answer, extract_code
from xolver.team.shared import answer_key
from xolver.team.solver import answer_instructions
from xolver.team.templates import render

_VERDICT = re.compile(r"VERDICT:\s*\**\s*(CORRECT|WRONG)", re.IGNORECASE)


def direct_instructions(problem: Problem) -> str:
    entry = f" Define the function `{problem.entry_point}`." if problem.kind == "code" and problem.entry_point else ""
    return render(f"direct_{problem.kind}", entry_point=entry)


class Baseline(Agent, ABC):
    """A single-model method. Subclasses say how its rounds go; this class turns them into a `SolveResult`.

    Calls sample at the control temperature (near-greedy), except self-consistency's, which need variety.
    """

    role = "solver"
    follows_format = True
    method: MethodName

    async def run(self, problem: Problem) -> SolveResult:
        problem = problem.public_view()
        started = time.perf_counter()
        with usage_scope() as usage, call_log() as calls:
            iterations, stop_reason = await self.rounds(problem, usage)
        chosen = iterations[-1].kept
        drawn = [c for record in iterations for c in record.candidates]
        best = next((c for c in drawn if c.id in chosen), None)
        if best is None:
            raise ModelError(f"{self.method}: every model call failed: {drawn[0].error}")
        return SolveResult(
            run_id=new_id(),
            problem=problem,
            answer=best.code if problem.kind == "code" else best.answer,
            code=best.code,
            verified=False,
            verification=Verification(method="none", passed=False, detail=f"{self.method} baseline: not checked"),
            roles=[],
            iterations=iterations,
            stop_reason=stop_reason,
            usage=usage,
            calls=calls,
            wall_seconds=time.perf_counter() - started,
            config=self.config.run_config(self.client.model_names(), method=self.method),
        )

    @abstractmethod
    async def rounds(self, problem: Problem, usage: Usage) -> tuple[list[IterationRecord], StopReason]:
        """The method's calls, as iteration records whose `kept` names the answer chosen so far."""

    async def sample(
        self, problem: Problem, prompt: str, *, iteration: int, agent: int = 0, temperature: float | None = None
    ) -> Candidate:
        """One call; a failed call becomes a candidate with `error` set (an unreachable server stops the run)."""
        with usage_scope() as usage:
            reply = await self.try_ask(
                prompt, max_tokens=self.config.max_tokens, seed_offset=1000 * iteration + agent,
                role="coder" if problem.kind == "code" else "solver", temperature=temperature,
            )  # fmt: skip
            if isinstance(reply, ModelError):
                return Candidate(role=self.method, agent=agent, iteration=iteration, error=str(reply), usage=usage)
        text = reply.text.strip()
        code = extract_code(text) if problem.kind == "code" else None
        answer = None if problem.kind == "code" else extract_answer(text, problem.kind)
        return Candidate(
            role=self.method, agent=agent, iteration=iteration, reasoning=text, answer=answer, code=code, usage=usage
        )


def _record(index: int, candidates: list[Candidate], chosen: Candidate | None) -> IterationRecord:
    return IterationRecord(
        index=index,
        candidates=candidates,
        kept=[chosen.id] if chosen is not None else [],
        best_answer=(chosen.answer or chosen.code) if chosen is not None else None,
    )


class Direct(Baseline):
    method: MethodName = "direct"

    async def rounds(self, problem: Problem, usage: Usage) -> tuple[list[IterationRecord], StopReason]:
        prompt = render("direct", problem=problem.text, instructions=direct_instructions(problem))
        candidate = await self.sample(problem, prompt, iteration=0)
        return [_record(0, [candidate], candidate if candidate.error is None else None)], "max_iterations"


class ChainOfThought(Baseline):
    method: MethodName = "cot"

    def prompt(self, problem: Problem) -> str:
        return render("cot", problem=problem.text, instructions=answer_instructions(problem))

    async def rounds(self, problem: Problem, usage: Usage) -> tuple[list[IterationRecord], StopReason]:
        candidate = await self.sample(problem, self.prompt(problem), iteration=0)
        return [_record(0, [candidate], candidate if candidate.error is None else None)], "max_iterations"


def majority(candidates: list[Candidate]) -> Candidate | None:
    """The first candidate giving the most common answer; candidates without an answer do not vote."""
    voters = [c for c in candidates if c.error is None and answer_key(c) is not None]
    if not voters:
        return next((c for c in candidates if c.error is None), None)
    counts = Counter(answer_key(c) for c in voters)
    top = max(counts.values())
    return next(c for c in voters if counts[answer_key(c)] == top)


class SelfConsistency(ChainOfThought):
    method: MethodName = "sc"

    async def rounds(self, problem: Problem, usage: Usage) -> tuple[list[IterationRecord], StopReason]:
        prompt = self.prompt(problem)
        k = self.config.samples
        wave = k if self.config.budget is None else min(k, self.config.agents)
        drawn: list[Candidate] = []
        iterations: list[IterationRecord] = []
        stop_reason: StopReason = "max_iterations"
        while len(drawn) < k:
            if drawn and spent(usage, self.config.budget):
                stop_reason = "budget"
                break
            index = len(iterations)
            size = min(wave, k - len(drawn))
            hot, first = self.config.temperature, len(drawn)
            batch = await asyncio.gather(
                *(self.sample(problem, prompt, iteration=index, agent=first + i, temperature=hot) for i in range(size))
            )
            drawn.extend(batch)
            iterations.append(_record(index, list(batch), majority(drawn)))
        return iterations, stop_reason


class SelfRefine(ChainOfThought):
    method: MethodName = "self-refine"

    async def rounds(self, problem: Problem, usage: Usage) -> tuple[list[IterationRecord], StopReason]:
        current = await self.sample(problem, self.prompt(problem), iteration=0)
        iterations = [_record(0, [current], current if current.error is None else None)]
        if current.error is not None:
            return iterations, "max_iterations"
        for index in range(1, self.config.iterations + 1):
            if spent(usage, self.config.budget):
                return iterations, "budget"
            solution = clip(current.reasoning, 3000)
            feedback = await self.sample(
                problem,
                render("refine_feedback", problem=problem.text, solution=solution),
                iteration=index,
                agent=1,
            )
            verdict = _VERDICT.findall(feedback.reasoning)
            if feedback.error is None and verdict and verdict[-1].upper() == "CORRECT":
                iterations.append(_record(index, [feedback], current))
                return iterations, "converged"
            revised = await self.sample(
                problem,
                render("refine", problem=problem.text, solution=solution,
                       feedback=clip(feedback.reasoning or "(no feedback)", 1500),
                       instructions=answer_instructions(problem)),
                iteration=index,
            )  # fmt: skip
            if revised.error is None and answer_key(revised) is not None:
                current = revised
            iterations.append(_record(index, [feedback, revised], current))
        return iterations, "max_iterations"


BASELINES: dict[str, type[Baseline]] = {
    cls.method: cls for cls in (Direct, ChainOfThought, SelfConsistency, SelfRefine)
}

__all__ = ["BASELINES", "Baseline", "ChainOfThought", "Direct", "SelfConsistency", "SelfRefine", "majority"]
