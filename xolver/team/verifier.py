"""The verifier turns the team's best candidate into a final answer and says how far it was checked."""

from __future__ import annotations

from xolver.errors import ModelError
from xolver.schema import Candidate, Problem, Verification
from xolver.team.agent import Agent, clip
from xolver.team.parsing import extract_answer, extract_boxed
from xolver.team.shared import answer_key
from xolver.team.templates import render

VERIFIER_MAX_TOKENS = 64


class Verifier(Agent):
    role = "verifier"

    async def finalize(
        self, problem: Problem, best: Candidate | None, kept: list[Candidate]
    ) -> tuple[str | None, Verification]:
        """The final answer (the code, for code problems) and its verification."""
        if best is None:
            return None, Verification(method="none", passed=False, detail="no candidate survived")
        answer = best.code if problem.kind == "code" else best.answer
        if answer is None and best.reasoning and problem.kind != "code":
            answer = await self._extract(problem, best)
        judgement = best.judgement
        if judgement is not None and judgement.judge == "tests" and judgement.total:
            passed = judgement.passed == judgement.total
            detail = f"{judgement.passed} of {judgement.total} tests pass"
            return answer, Verification(method="tests", passed=passed, detail=detail)
        score = best.score
        agree = sum(1 for c in kept if answer_key(c) is not None and answer_key(c) == answer_key(best))
        if score is None:
            return answer, Verification(method="none", passed=False, detail="the best candidate is unjudged")
        # A judge model alone is weak evidence (a small one approves wrong answers), so the answer must
        # also be the one several candidates reached independently.
        needed = min(self.config.verify_agreement, len(kept))
        passed = answer is not None and score >= self.config.verify_threshold and agree >= needed
        detail = (
            f"judge score {score:.2f} (threshold {self.config.verify_threshold:.2f}); "
            f"{agree} of {len(kept)} kept candidates agree ({needed} needed)"
        )
        return answer, Verification(method="judge", passed=passed, detail=detail)

    async def _extract(self, problem: Problem, best: Candidate) -> str | None:
        """Ask the verifier model to state the answer when the solver never wrote it plainly."""
        prompt = render("verifier", problem=problem.text, solution=clip(best.reasoning, 3000))
        reply = await self.try_ask(prompt, max_tokens=VERIFIER_MAX_TOKENS)
        if isinstance(reply, ModelError):
            return None
        return extract_boxed(reply.text) or extract_answer(reply.text, problem.kind)
