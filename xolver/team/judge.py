"""The judge scores each candidate in [0, 1] with a rationale that the solvers see next round.

A judge that cannot judge (its reply has no score, or its model call failed) is recorded as such,
never as a score of 0: a crash is not a verdict.
"""

from __future__ import annotations

import re

from xolver.errors import ModelError
from xolver.schema import Candidate, Judgement, Problem
from xolver.team.agent import Agent, clip
from xolver.team.parsing import parse_score
from xolver.team.templates import render
from xolver.tools.tests import has_tests, run_tests

JUDGE_ATTEMPTS = 2  # an unreadable reply is asked for once more


def rationale_of(reply: str) -> str:
    """The judge's reasoning without its score line."""
    return clip(re.sub(r"(?im)^.*\bscore\b.*$", "", reply).strip(), 600)


class Judge(Agent):
    role = "judge"

    async def judge(self, problem: Problem, candidate: Candidate) -> Judgement:
        """By the problem's tests when there are tests and a sandbox; otherwise by the judge model."""
        if candidate.error is None and self.sandbox is not None and problem.kind == "code" and has_tests(problem):
            return await self._by_tests(problem, candidate)
        if candidate.error is not None:
            return Judgement(
                candidate_id=candidate.id, status="failed", attempts=0,
                error=f"nothing to judge: the candidate's model call failed ({candidate.error})",
            )  # fmt: skip
        if not candidate.reasoning:
            return Judgement(
                candidate_id=candidate.id, status="scored", score=0.0, judge="rule",
                rationale="The attempt is empty.",
            )  # fmt: skip
        prompt = render("judge", problem=problem.text, solution=clip(candidate.reasoning, 3000))
        reply_text = ""
        for attempt in range(1, JUDGE_ATTEMPTS + 1):
            reply = await self.try_ask(prompt, task="judge", seed_offset=attempt)
            if isinstance(reply, ModelError):
                return Judgement(candidate_id=candidate.id, status="failed", attempts=attempt, error=str(reply))
            reply_text = reply.text
            score = parse_score(reply_text)  # no score, no verdict: 'correct' in prose is no 1.0
            if score is not None:
                return Judgement(
                    candidate_id=candidate.id, status="scored", score=score,
                    rationale=rationale_of(reply_text), attempts=attempt,
                )  # fmt: skip
        return Judgement(
            candidate_id=candidate.id, status="unparsed", attempts=JUDGE_ATTEMPTS,
            rationale=clip(reply_text, 600), error="the judge's reply has no 'Score:' line",
        )  # fmt: skip

    async def _by_tests(self, problem: Problem, candidate: Candidate) -> Judgement:
        assert self.sandbox is not None
        if not candidate.code:
            return Judgement(
                candidate_id=candidate.id, status="scored", score=0.0, judge="rule", rationale="No code block to test."
            )
        report = await run_tests(self.sandbox, candidate.code, problem, timeout=self.config.sandbox_timeout)
        rationale = (
            f"All {report.total} tests pass."
            if report.passed == report.total
            else f"{report.passed} of {report.total} tests pass; {report.first_failure()}"
        )
        return Judgement(
            candidate_id=candidate.id, status="scored", score=report.score, judge="tests",
            passed=report.passed, total=report.total, rationale=rationale,
        )  # fmt: skip
