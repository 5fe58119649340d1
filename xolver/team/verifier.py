"""The verifier turns the team's best candidate into a final answer and gathers the evidence for it.

Evidence comes from tools where it can: for code, the visible tests and tests the judge writes after the
solve (the team never saw them, so a program fitted to the examples fails them); for math, the answer's own
program and an independent program written here and run in the sandbox, compared with the answer
(numbers directly, expressions with `sympy_check`). The judge's score, agreement between kept candidates
and the model's self-certainty are recorded too. `evidence.verdict` weighs them by the configured rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import ValidationError

from xolver.errors import ModelError
from xolver.schema import Candidate, Evidence, Problem, TestCase, Verification
from xolver.team.agent import Agent, clip
from xolver.team.analogy import perturbed, steps
from xolver.team.decision import answer_key, evidence_key
from xolver.team.evidence import CERTAINTY_THRESHOLD, verdict
from xolver.team.parsing import as_number, extract_answer, extract_boxed, extract_code, parse_json_lines
from xolver.team.programs import answer_from_output, program_answered, repair_stated_results
from xolver.team.templates import render
from xolver.tools.python import run_python
from xolver.tools.sympy_check import sympy_equal
from xolver.tools.tests import run_tests

STDIN_FORM = '{"input": "<the whole standard input>", "output": "<the exact standard output expected>"}'
CALL_FORM = '{"call": "<a Python call expression, like the tests above>", "expected": "<the value, a Python literal>"}'


@dataclass(frozen=True)
class Check:
    """The independent program of a solve: what it printed (`value`) and what it prints with the problem's
    numbers moved (`moved`, `xolver.team.analogy.perturbed`), or why there is nothing to compare."""

    program: str | None = None
    value: str | None = None
    moved: str | None = None
    detail: str = ""


class Verifier(Agent):
    role = "verifier"

    async def finalize(
        self, problem: Problem, best: Candidate | None, kept: list[Candidate], check: Check | None = None
    ) -> tuple[str | None, Verification]:
        """The final answer (the code, for code problems) and its verification; `check` is the independent
        program's run (`self.check`), made once per solve."""
        if best is None:
            return None, Verification(method="none", passed=False, detail="no candidate survived")
        answer = best.code if problem.kind == "code" else best.answer
        if answer is None and best.reasoning and problem.kind != "code":
            answer = await self._extract(problem, best)
        if answer is None:
            return None, Verification(method="none", passed=False, detail="the best candidate gave no answer")
        if problem.kind == "code":
            evidence = await self._code_evidence(problem, best, answer)
        else:
            check = check or await self.check(problem)
            own, moved = await self._own_program(problem, best)
            evidence = [own, await self._independent(check, answer, moved)]
        evidence += [judged(best, self.config.verify_threshold), self._agreement(best, kept), certainty(best)]
        requires = self.config.verify_requires.get(problem.kind)
        return answer, verdict(problem.kind, evidence, self.config.verify_rule, requires)

    async def _extract(self, problem: Problem, best: Candidate) -> str | None:
        """Ask the verifier model to state the answer when the solver never wrote it plainly."""
        prompt = render("verifier", problem=problem.text, solution=clip(best.reasoning, 3000))
        reply = await self.try_ask(prompt, task="extract")
        if isinstance(reply, ModelError):
            return None
        return extract_boxed(reply.text) or extract_answer(reply.text, problem.kind)

    def _agreement(self, best: Candidate, kept: list[Candidate]) -> Evidence:
        needed = min(self.config.verify_agreement, len(kept))
        alike = {evidence_key(c) for c in kept if answer_key(c) is not None and answer_key(c) == answer_key(best)}
        agree = len(alike)  # the same program from two agents is one candidate's word
        detail = f"{agree} of {len(kept)} kept candidates agree ({needed} needed)"
        if needed < 2:
            return Evidence(kind="agreement", passed=None, detail=f"{detail}: one candidate has nothing to agree with")
        return Evidence(kind="agreement", passed=agree >= needed, value=agree / len(kept), detail=detail)

    async def _code_evidence(self, problem: Problem, best: Candidate, code: str) -> list[Evidence]:
        judgement = best.judgement
        if judgement is not None and judgement.judge == "tests" and judgement.total:
            shown = Evidence(
                kind="tests", passed=judgement.passed == judgement.total,
                value=(judgement.passed or 0) / judgement.total, detail=f"{judgement.passed}/{judgement.total}",
            )  # fmt: skip
        else:
            shown = Evidence(kind="tests", passed=None, detail="no visible tests")
        if shown.passed is False:
            return [shown]  # no point writing more tests for a program that fails the ones it was shown
        return [shown, await self._unseen_tests(problem, code)]

    async def _unseen_tests(self, problem: Problem, code: str) -> Evidence:
        """Tests the judge writes now, after the solve, in the style of the problem's; the program must pass them."""
        if self.sandbox is None or self.config.unseen_tests == 0:
            return Evidence(kind="unseen_tests", passed=None, detail="no sandbox" if self.sandbox is None else "off")
        calls = any(t.call is not None for t in problem.tests) or (not problem.tests and problem.entry_point)
        shown = "\n".join(t.model_dump_json(exclude_defaults=True) for t in problem.tests) or "(none)"
        prompt = render("unseen_tests", problem=problem.text, shown=shown, count=self.config.unseen_tests,
                        form=CALL_FORM if calls else STDIN_FORM)  # fmt: skip
        reply = await self.try_ask(prompt, task="tests", role="judge")
        if isinstance(reply, ModelError):
            return Evidence(kind="unseen_tests", passed=None, detail=f"the judge could not write tests: {reply}")
        tests = new_tests(reply.text, problem.tests)[: self.config.unseen_tests]
        if not tests:
            return Evidence(kind="unseen_tests", passed=None, detail="the judge wrote no usable new test")
        report = await run_tests(
            self.sandbox, code, problem.model_copy(update={"tests": tests, "test_code": None}),
            timeout=self.config.sandbox_timeout,
        )  # fmt: skip
        detail = f"{report.passed}/{report.total} written after the solve"
        if report.passed < report.total:
            detail += f"; {report.first_failure()}"
        return Evidence(kind="unseen_tests", passed=report.passed == report.total, value=report.score, detail=detail)

    async def check(self, problem: Problem) -> Check:
        """A program written here from the problem alone (it never sees the candidates), run in the sandbox;
        the value it prints is what every answer it is asked about must equal."""
        if self.sandbox is None:
            return Check(detail="no sandbox")
        reply = await self.try_ask(render("check_program", problem=problem.text), task="check")
        code = None if isinstance(reply, ModelError) else extract_code(reply.text)
        if code is None:
            return Check(detail="no check program was written")
        code = repair_stated_results(code) or code
        value, failure = await self._printed(code)
        if value is None:
            return Check(program=code, detail=f"the check program {failure}")
        moved, why = await self._moves(code, problem, value)
        if why is not None:
            return Check(program=code, detail=f"the check program {why}: no evidence")
        return Check(program=code, value=value, moved=moved, detail=f"an independent program printed {clip(value, 60)}")

    async def _printed(self, code: str) -> tuple[str | None, str]:
        """What a program printed, read as a candidate's program is read; else why nothing."""
        assert self.sandbox is not None
        call = await run_python(self.sandbox, code, timeout=self.config.sandbox_timeout)
        value = answer_from_output(call.output) if call.ok else None
        return value, "failed" if not call.ok else "printed nothing"

    async def _moves(self, code: str, problem: Problem, value: str) -> tuple[str | None, str | None]:
        """The value `code` prints with the problem's numbers moved, or why it is no computation of the
        problem: it writes none of its numbers, or its value stays put when they move. A moved program that
        fails (a count that must stay whole) says nothing either way: (None, None)."""
        moved = perturbed(code, problem.text)
        if moved is None:
            return None, "uses none of the problem's numbers (it states a value, it computes none)"
        shifted, _ = await self._printed(moved)
        if shifted is not None and await self._same(shifted, value):
            return None, "prints the same value when the problem's numbers change (a constant)"
        before, after = as_number(value), as_number(shifted or "")
        if before is not None and after is not None and any(
            math.isclose(before, number) and math.isclose(after, number + step)
            for number, step in steps(problem.text).items()
        ):
            return None, "prints one of the problem's own numbers back (it repeats a quantity, it computes none)"
        return shifted, None

    async def _own_program(self, problem: Problem, best: Candidate) -> tuple[Evidence, str | None]:
        """The answer's own program as evidence (`own_program`), and what it prints with the problem's numbers
        moved, to hold beside the check's."""
        evidence = own_program(best)
        runs = [call for call in best.tool_calls if call.tool == "python"]
        if not evidence.passed or not runs or self.sandbox is None or best.answer is None:
            return evidence, None
        moved, why = await self._moves(str(runs[-1].arguments.get("code", "")), problem, best.answer)
        if why is not None:
            return Evidence(kind="own_program", passed=False, detail=f"its program {why}"), None
        return evidence, moved

    async def agrees(self, check: Check, answer: str) -> bool | None:
        """Whether the check printed `answer`; None when it printed nothing to compare."""
        return None if check.value is None else await self._same(check.value, answer)

    async def _independent(self, check: Check, answer: str, moved: str | None = None) -> Evidence:
        """Whether the check printed the answer; and, where both programs could be moved, whether they still
        agree once the problem's numbers change (else they agree by coincidence, not by computing alike)."""
        agrees, detail = await self.agrees(check, answer), check.detail
        if agrees and check.moved is not None and moved is not None and not await self._same(check.moved, moved):
            agrees = False
            detail += f"; with the problem's numbers moved it printed {clip(check.moved, 40)}, the answer's " \
                      f"program {clip(moved, 40)}"  # fmt: skip
        return Evidence(kind="independent_check", passed=agrees, detail=detail,
                        program=check.program if check.value is not None else None)  # fmt: skip

    async def _same(self, computed: str, answer: str) -> bool | None:
        """Numbers compared here; anything else symbolically, by sympy in the sandbox."""
        x, y = as_number(computed), as_number(answer)
        if x is not None and y is not None:
            return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
        assert self.sandbox is not None
        return await sympy_equal(self.sandbox, computed, answer, timeout=self.config.sandbox_timeout)


def new_tests(reply: str, shown: list[TestCase]) -> list[TestCase]:
    """The well-formed tests of a reply that are not among those the team was shown."""
    seen = {(t.input, t.call) for t in shown}
    tests: list[TestCase] = []
    for item in parse_json_lines(reply):
        fields = {k: str(v) for k, v in item.items() if k in ("input", "output", "call", "expected")}
        try:
            test = TestCase(**fields)
        except ValidationError:
            continue
        if (test.input is None) == (test.call is None) or (test.input, test.call) in seen:
            continue
        seen.add((test.input, test.call))
        tests.append(test)
    return tests


def own_program(best: Candidate) -> Evidence:
    """A candidate whose own code failed or printed nothing is never verified; one without code has
    nothing to say here."""
    answered = program_answered(best)
    if best.copied is not None:
        why = f"its program computes with the numbers of another problem: {clip(best.copied, 80)}"
        return Evidence(kind="own_program", passed=False, detail=why)
    if answered is None:
        return Evidence(kind="own_program", passed=None, detail="no program")
    if answered:
        return Evidence(kind="own_program", passed=True, detail="ran cleanly and printed its answer")
    failed = any(not call.ok for call in best.tool_calls if call.tool == "python")
    why = "its program failed" if failed else "its program printed nothing"
    return Evidence(kind="own_program", passed=False, detail=why)


def judged(best: Candidate, threshold: float) -> Evidence:
    judgement = best.judgement
    if judgement is None or judgement.status != "scored" or judgement.score is None:
        return Evidence(kind="judge", passed=None, detail="not scored")
    return Evidence(kind="judge", passed=judgement.score >= threshold, value=judgement.score,
                    detail=f"{judgement.score:.2f} by {judgement.judge} (threshold {threshold:.2f})")  # fmt: skip


def certainty(best: Candidate) -> Evidence:
    if best.certainty is None:
        return Evidence(kind="self_certainty", passed=None, detail="no log-probabilities")
    return Evidence(kind="self_certainty", passed=best.certainty >= CERTAINTY_THRESHOLD, value=best.certainty,
                    detail=f"mean token probability {best.certainty:.2f}")  # fmt: skip
