"""The agents that read and write experience: recall when memory is empty, learning after a solve."""

from __future__ import annotations

import re
from typing import Any

from xolver.errors import ModelError
from xolver.memory.base import ExperienceStore
from xolver.schema import Candidate, Experience, ExperienceSource, Problem, Verification
from xolver.team.agent import Agent, clip
from xolver.team.analogy import computes_from
from xolver.team.evidence import summary
from xolver.team.programs import lift_numbers
from xolver.team.templates import render


def passing_code(problem: Problem, best: Candidate, verification: Verification) -> list[str]:
    """Code worth keeping: a program that passed the tests, or Python that ran cleanly in a verified solve.
    A math answer reached without a program keeps the independent check's, which computed the same value
    from the problem's numbers alone: the next problem of its kind can then be solved by rebinding it."""
    found = [best.code] if best.code and verification.method == "tests" else []
    found += [
        call.arguments["code"] for call in best.tool_calls if call.tool == "python" and call.ok and best.code is None
    ]
    if not found:
        found = [
            e.program for e in verification.evidence
            if e.kind == "independent_check" and e.passed and e.program and computes_from(e.program, problem.text)
        ]  # fmt: skip
    return list(dict.fromkeys(found))


def _common(problem: Problem, source: ExperienceSource, confidence: float, evidence: list[str]) -> dict[str, Any]:
    return {"problem": problem.text, "task_kind": problem.kind, "source": source, "verified": True,
            "confidence": confidence, "evidence": evidence}  # fmt: skip


def solved_records(
    problem: Problem, answer: str | None, programs: list[str], *, reasoning: str, score: float,
    source: ExperienceSource, confidence: float, evidence: list[str], provenance: dict[str, str],
) -> list[Experience]:  # fmt: skip
    """A solved problem's solution and its code fragments, linked: a math program with the problem's numbers
    lifted into named variables (a sibling changes those lines) is the solution's content."""
    if problem.kind == "math":
        programs = [lift_numbers(code, problem.text) for code in programs]
    content = reasoning
    if programs and problem.kind == "math":
        content = f"Program:\n```python\n{programs[0]}\n```\nAnswer: {answer}"
    common = _common(problem, source, confidence, evidence)
    solution = Experience(kind="solution", content=content, score=score, provenance=provenance, **common)
    records = [solution]
    for code in programs:
        fragment = Experience(kind="code_fragment", content=code, links=[solution.id], provenance=provenance, **common)
        solution.links.append(fragment.id)
        records.append(fragment)
    return records


def reference_records(problem: Problem, *, run_id: str | None) -> list[Experience]:
    """What perfect verification would have written after `problem`: its reference solution (the program in
    `metadata.program`, else the reference answer) as verified experience: the oracle memory of a learning run
    (`xolver bench run --oracle`), its upper bound."""
    program = problem.metadata.get("program")
    if problem.answer is None and not program:
        return []
    provenance = {"problem_id": problem.id, "oracle": "reference"} | ({"run_id": run_id} if run_id else {})
    reasoning = f"Answer: {problem.answer}" if problem.answer is not None else ""
    return solved_records(
        problem, problem.answer, [str(program)] if program else [], reasoning=reasoning, score=1.0,
        source="external", confidence=1.0, evidence=["reference solution (oracle memory)"], provenance=provenance,
    )  # fmt: skip


class Recaller(Agent):
    """Self-retrieval: the model recalls a similar solved problem when memory offers nothing relevant."""

    role = "solver"
    follows_format = False

    async def recall(self, problem: Problem) -> list[Experience]:
        reply = await self.try_ask(render("recall", problem=problem.text), task="recall")
        if isinstance(reply, ModelError):
            return []
        text = reply.text.strip()
        match = re.search(r"similar problem:\s*(.+?)\s*solution:\s*(.+)", text, re.IGNORECASE | re.DOTALL)
        if match is None:
            return []  # a recall the model could not put in shape is no example
        return [
            Experience(
                kind="solution",
                problem=match.group(1).strip(),
                content=match.group(2).strip(),
                task_kind=problem.kind,
                source="self",
                verified=False,
                provenance={"recalled_for": problem.id, "model": self.client.model_name("solver")},
            )
        ]


class Learner(Agent):
    """Draws what a verified solve taught (the solution, the code that passed, a strategy) for memory."""

    role = "verifier"

    async def record_use(self, store: ExperienceStore, exemplars: list[Experience], *, success: bool) -> None:
        """Count the stored exemplars that were shown, and whether the solve was verified."""
        used = [e.id for e in exemplars if e.provenance.get("recalled_for") is None]
        if used:
            await store.record_use(used, success=success)

    async def lesson(
        self, problem: Problem, best: Candidate | None, verification: Verification, *, run_id: str
    ) -> list[Experience]:
        """The experiences to write; none from an unverified solve."""
        if best is None or not verification.passed:
            return []
        provenance = {"run_id": run_id, "problem_id": problem.id, "model": self.client.model_name("solver"),
                      "rule": verification.rule}  # fmt: skip
        precision = self.config.verify_precision.get(problem.kind)
        if precision is not None and verification.rule == "calibrated":
            provenance["rule_precision"] = f"{precision:.4f}"  # what the rule measured on graded runs
        programs = passing_code(problem, best, verification)
        records = solved_records(
            problem, best.answer, programs, reasoning=best.reasoning, score=best.score or 0.0, source="self",
            confidence=verification.confidence, evidence=summary(verification.evidence), provenance=provenance,
        )  # fmt: skip
        insight, applies = await self._distil(problem, best)
        if insight:
            solution = records[0]
            strategy = Experience(
                kind="strategy", content=insight, links=[solution.id], provenance=provenance,
                **_common(problem, solution.source, solution.confidence, solution.evidence),
            )  # fmt: skip
            solution.links.append(strategy.id)
            records.append(strategy)
        for record in records:
            record.applies = applies  # every record of the solve is found by the situation it fits
        return records

    async def _distil(self, problem: Problem, best: Candidate) -> tuple[str | None, str]:
        """The strategy and its "when this applies" key, from one small call. A reply without the labels
        is taken whole as the strategy, with no key."""
        prompt = render("strategy", problem=problem.text, solution=clip(best.reasoning, 2500))
        reply = await self.try_ask(prompt, task="strategy")
        if isinstance(reply, ModelError):
            return None, ""
        text = reply.text.strip()
        strategy = re.search(r"strategy:\s*(.+?)\s*(?:applies when:|$)", text, re.IGNORECASE | re.DOTALL)
        applies = re.search(r"applies when:\s*(.+)", text, re.IGNORECASE | re.DOTALL)
        insight = strategy.group(1).strip() if strategy else text
        return insight or None, clip(applies.group(1).strip(), 300) if applies else ""
