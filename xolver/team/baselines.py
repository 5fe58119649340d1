"""The baselines Xolver is compared with, on the same model, prompts style and harness.

- `direct`: one call, the answer only.
- `cot`: one call, step-by-step reasoning, then the answer.
- `sc`: self-consistency, `samples` chain-of-thought samples and a majority vote over their answers
  (for code, identical programs vote together; no tests are run).
- `self-refine`: a chain-of-thought answer, then up to `iterations` rounds of the model's own feedback
  and a revision; stops early when the feedback finds no mistake.
- `self-reflection`: a chain-of-thought answer, then up to `iterations` rounds of a reflection (what went
  wrong, advice for next time) and a fresh attempt guided by the advice alone; stops when the reflection
  is sure the answer is right.
- `cheatsheet`: Dynamic Cheatsheet, cumulative: one evolving sheet of insights carried from problem to
  problem in order; each answer is written with the sheet in view, then the sheet is rewritten.

None of them uses tools or tests; only the cheatsheet carries anything from one problem to the next.
With a token `budget`, `sc` draws its samples in waves of `m`, `self-refine` and `self-reflection` start
no new round once the budget is spent, and the cheatsheet skips its rewrite, so methods can be compared
at equal cost.
Each returns a `SolveResult` like the team's, so the harness, grading and reports treat all methods alike.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections import Counter
from pathlib import Path

from xolver.aio import LoopLimit
from xolver.errors import ModelError, ModelTruncated
from xolver.llm.client import ModelClient
from xolver.llm.usage import call_log, usage_scope
from xolver.schema import (
    Candidate,
    IterationRecord,
    MethodName,
    Problem,
    Settings,
    SolveResult,
    StopReason,
    Usage,
    Verification,
    new_id,
)
from xolver.team.agent import Agent, clip
from xolver.team.decision import answer_key
from xolver.team.loop import spent
from xolver.team.parsing import extract_answer, extract_code
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
        if best is None and not all(c.cut for c in drawn):
            raise ModelError(f"{self.method}: every model call failed: {drawn[0].error}")
        # a model that talked past its token limit every time gave no answer: graded wrong, not a crash
        return SolveResult(
            run_id=new_id(),
            problem=problem,
            answer=None if best is None else best.code if problem.kind == "code" else best.answer,
            code=None if best is None else best.code,
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
                prompt, task="code" if problem.kind == "code" else "solve", seed_offset=1000 * iteration + agent,
                role="coder" if problem.kind == "code" else "solver", temperature=temperature,
            )  # fmt: skip
            if isinstance(reply, ModelError):
                return Candidate(role=self.method, agent=agent, iteration=iteration, error=str(reply),
                                 cut=isinstance(reply, ModelTruncated), usage=usage)  # fmt: skip
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
            hot, first = self.config.sampling_temperature, len(drawn)
            batch = await asyncio.gather(
                *(self.sample(problem, prompt, iteration=index, agent=first + i, temperature=hot) for i in range(size))
            )
            drawn.extend(batch)
            iterations.append(_record(index, list(batch), majority(drawn)))
        return iterations, stop_reason


class SelfRefine(ChainOfThought):
    method: MethodName = "self-refine"
    critique = "refine_feedback"  # the model's feedback on its solution
    revision = "refine"  # a revised solution, given the last one and the feedback

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
                problem, render(self.critique, problem=problem.text, solution=solution), iteration=index, agent=1
            )
            verdict = _VERDICT.findall(feedback.reasoning)
            if feedback.error is None and verdict and verdict[-1].upper() == "CORRECT":
                iterations.append(_record(index, [feedback], current))
                return iterations, "converged"
            revised = await self.sample(
                problem,
                render(self.revision, problem=problem.text, solution=solution,
                       feedback=clip(feedback.reasoning or "(no feedback)", 1500),
                       instructions=answer_instructions(problem)),
                iteration=index,
            )  # fmt: skip
            if revised.error is None and answer_key(revised) is not None:
                current = revised
            iterations.append(_record(index, [feedback, revised], current))
        return iterations, "max_iterations"


class SelfReflection(SelfRefine):
    method: MethodName = "self-reflection"
    critique = "reflect"  # why it may be wrong, and advice for next time
    revision = "reflect_retry"  # a fresh attempt that sees the advice, not the last solution


class Sheet:
    """The cheatsheet a run carries from problem to problem, kept in `path` (when given) so a resumed run
    goes on with the sheet it had. Problems take turns: the next starts once the sheet is rewritten."""

    WORDS = 400

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""
        self.turn = LoopLimit(1)

    def rewrite(self, text: str) -> None:
        words = text.split()
        self.text = " ".join(words[: self.WORDS * 2]) if len(words) > self.WORDS * 2 else text.strip()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            partial.write_text(self.text, encoding="utf-8")
            partial.replace(self.path)


class Cheatsheet(ChainOfThought):
    method: MethodName = "cheatsheet"

    def __init__(self, client: ModelClient, config: Settings, sheet: Sheet) -> None:
        super().__init__(client, config)
        self.sheet = sheet

    async def rounds(self, problem: Problem, usage: Usage) -> tuple[list[IterationRecord], StopReason]:
        async with self.sheet.turn.slot():
            sheet = self.sheet.text or "(empty: this is the first problem)"
            prompt = render("cheatsheet_solve", sheet=sheet, problem=problem.text,
                            instructions=answer_instructions(problem))  # fmt: skip
            answer = await self.sample(problem, prompt, iteration=0)
            iterations = [_record(0, [answer], answer if answer.error is None else None)]
            if answer.error is not None or spent(usage, self.config.budget):
                return iterations, "max_iterations" if answer.error is not None else "budget"
            curate = render("cheatsheet_curate", sheet=sheet, problem=problem.text,
                            solution=clip(answer.reasoning, 2000), words=Sheet.WORDS)  # fmt: skip
            curated = await self.sample(problem, curate, iteration=1, agent=1)
            if curated.error is None and curated.reasoning.strip():
                self.sheet.rewrite(curated.reasoning)
            iterations.append(_record(1, [curated], answer))
        return iterations, "max_iterations"


BASELINES: dict[str, type[Baseline]] = {
    cls.method: cls for cls in (Direct, ChainOfThought, SelfConsistency, SelfRefine, SelfReflection)
}

__all__ = [
    "BASELINES", "Baseline", "ChainOfThought", "Cheatsheet", "Direct", "SelfConsistency", "SelfRefine",
    "SelfReflection", "Sheet", "majority",
]  # fmt: skip
