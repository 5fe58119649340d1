"""A solver agent: one role's attempt at the problem, given experience, the team's best, and its own last try."""

from __future__ import annotations

from xolver.errors import ModelError, ModelUnreachable
from xolver.llm.usage import usage_scope
from xolver.schema import Candidate, Experience, Problem, Role
from xolver.team.agent import Agent, clip
from xolver.team.parsing import extract_answer, extract_code
from xolver.team.templates import render

EXEMPLAR_CHARS = 1500
ATTEMPT_CHARS = 1500


def answer_instructions(problem: Problem) -> str:
    if problem.kind == "code":
        entry = f" Define the function `{problem.entry_point}`." if problem.entry_point else ""
        return render("answer_code", entry_point=entry)
    return render(f"answer_{problem.kind}")


def render_exemplars(exemplars: list[Experience]) -> str:
    if not exemplars:
        return ""
    parts = ["", "Solved examples from the team's experience:"]
    for i, exp in enumerate(exemplars, 1):
        parts.append(f"### Example {i}\nProblem: {clip(exp.problem, 600)}\n{clip(exp.content, EXEMPLAR_CHARS)}")
    return "\n".join(parts) + "\n"


def _with_feedback(candidate: Candidate) -> str:
    judgement = candidate.judgement
    body = clip(candidate.reasoning, ATTEMPT_CHARS)
    if judgement is None or judgement.status != "scored":
        return f"{body}\nJudge: could not assess this attempt."
    return f"{body}\nJudge (score {judgement.score:.2f}): {clip(judgement.rationale, 400)}"


def render_shared(kept: list[Candidate]) -> str:
    if not kept:
        return ""
    parts = ["", "The team's best attempts so far, with the judge's comments:"]
    for c in kept:
        parts.append(f"### {c.role} (iteration {c.iteration + 1})\n{_with_feedback(c)}")
    return "\n".join(parts) + "\n"


def render_previous(previous: Candidate | None) -> str:
    if previous is None:
        return ""
    if previous.error is not None:
        return f"\nYour previous attempt failed ({clip(previous.error, 200)}). Try again.\n"
    return f"\nYour previous attempt:\n{_with_feedback(previous)}\nImprove on it or correct it.\n"


class Solver(Agent):
    role = "solver"
    follows_format = False

    async def attempt(
        self,
        problem: Problem,
        role: Role,
        *,
        agent: int,
        iteration: int,
        exemplars: str,
        shared: str,
        previous: Candidate | None,
    ) -> Candidate:
        """One attempt. A failed model call becomes a candidate with `error` set, for the next round."""
        prompt = render(
            "solver",
            problem=problem.text,
            exemplars=exemplars,
            shared=shared,
            role_name=role.name,
            role_focus=role.focus or "solve the problem",
            previous=render_previous(previous),
            instructions=answer_instructions(problem),
        )
        base = {"role": role.name, "agent": agent, "iteration": iteration}
        with usage_scope() as usage:
            try:
                reply = await self.ask(prompt, max_tokens=self.config.max_tokens, seed_offset=1000 * iteration + agent)
            except ModelUnreachable:
                raise
            except ModelError as exc:
                return Candidate(**base, error=str(exc), usage=usage)
        text = reply.text.strip()
        if problem.kind == "code":
            return Candidate(**base, reasoning=text, code=extract_code(text), usage=usage)
        return Candidate(**base, reasoning=text, answer=extract_answer(text, problem.kind), usage=usage)
