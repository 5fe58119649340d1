"""Simulated models: models of a known skill on a problem set whose answers (and programs) they know, for
testing the team's rules against every kind of model it will meet (STYLE.md, habit 13).

    model = SimulatedModel(problems, Skill(p=0.6, judge="uninformative"))
    team = Xolver(model=model, sandbox=...)

Each answer it writes (a solver's, a baseline sample's, the verifier's independent program) is right with
probability `p`, else one of a few plausible wrong answers: the problem's program with one operation
changed, so wrong answers coincide as real models' do. It answers with a program that names the problem's
quantities and prints the answer, then the answer boxed (`prose` of its replies carry no program).
Its judge is `informative` (right 9 times in 10), `uninformative` (scores everything 1, a self-score) or
`adversarial` (1 for wrong answers, 0 for right ones). With `needs_exemplar` it is right (with probability
`p`) when shown a problem of the same family solved rightly, else only with probability `alone` times p.
Draws are seeded by the call: the same request gets the same reply, agents with different prompts draw
independently.

A problem's program is `metadata.program` (tools/make_problems.py writes it); without one, the answer is
printed as a literal. The sets of `tests/data` carry programs. `tools/fake_server.py --simulate` serves the
same models over HTTP.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xolver.llm.base import Message, ModelRequest
from xolver.llm.testing import ScriptedModel
from xolver.schema import Problem
from xolver.team.parsing import as_number, canonical_answer, extract_answer
from xolver.team.programs import answer_from_output

JudgeKind = Literal["informative", "uninformative", "adversarial"]
LiarKind = Literal["constant", "echo", "copier"]
WRONG_ANSWERS = 3


class Skill(BaseModel):
    """What a simulated model can do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    p: float = Field(1.0, ge=0.0, le=1.0, description="probability that an answer it writes is right")
    judge: JudgeKind = "uninformative"
    needs_exemplar: bool = Field(
        False, description="right (with probability p) when shown a rightly solved problem of the same family; else "
        "right with probability `alone` times p"
    )
    alone: float = Field(0.0, ge=0.0, le=1.0, description="with needs_exemplar: its chance without a solved sibling")
    prose: float = Field(0.0, ge=0.0, le=1.0, description="share of its answers written without a program")
    conform: float = Field(
        0.0, ge=0.0, le=1.0, description="shown the team's attempts, the chance it repeats the first one's answer"
    )
    liar: LiarKind | None = Field(
        None, description="a model that must verify nothing, with a program and a perfect self-score for every "
        "answer: constant (42 to everything), echo (the answer of the first exemplar it is shown), copier (the "
        "first exemplar's program unchanged); shown no exemplar (the check), it repeats its answer to the problem"
    )
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> Skill:
        """`p=0.6,judge=adversarial,needs_exemplar=1`: the form of `fake_server.py --simulate`."""
        fields: dict[str, object] = {}
        for part in filter(None, (s.strip() for s in spec.split(","))):
            name, _, value = part.partition("=")
            fields[name.strip().replace("-", "_")] = value.strip()
        return cls.model_validate(fields)


@dataclass(frozen=True)
class Known:
    """A problem the simulated model knows: its right program and answer, and its plausible wrong ones."""

    problem: Problem
    program: str
    answer: str
    wrong: tuple[tuple[str, str], ...]  # (program, answer)

    @property
    def family(self) -> str:
        return str(self.problem.metadata.get("family", self.problem.id))


def _printed(program: str) -> str | None:
    """What one of the known programs prints (programs of our own problem sets, or mutations of them)."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(program, "<simulated>", "exec"), {})
    except Exception:
        return None
    return answer_from_output(out.getvalue())


_SWAPS: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add,), ast.Mult: (ast.Add, ast.Div), ast.Div: (ast.Mult, ast.Sub),
    ast.FloorDiv: (ast.Mult, ast.Sub), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,),
}  # fmt: skip


def _mutations(program: str) -> list[str]:
    """The program with one arithmetic operation of its last statement changed, in a fixed order."""
    tree = ast.parse(program)
    ops = [node for node in ast.walk(tree.body[-1]) if isinstance(node, ast.BinOp)]
    found = []
    for node in ops:
        original = node.op
        for swap in _SWAPS.get(type(original), ()):
            node.op = swap()
            found.append(ast.unparse(tree))
        node.op = original
    return found


def know(problem: Problem) -> Known:
    """A problem with its reference answer, its program (or one printing the answer), and wrong answers."""
    answer = problem.answer or "0"
    program = str(problem.metadata.get("program") or f"answer = {answer}\nprint(answer)")
    right = as_number(_printed(program)) if as_number(answer) is not None else None
    wrong: list[tuple[str, str]] = []
    candidates = _mutations(program) if problem.metadata.get("program") else []
    value = as_number(answer)
    if value is not None:  # literal near misses, after the mutated programs
        candidates += [f"answer = {v:g}\nprint(answer)" for v in (value + 1, value * 2, value - 1, value + 10)]
    for variant in candidates:
        printed = _printed(variant)
        number = as_number(printed)
        if printed is None or number is None or abs(number) > 1e12 or (right is not None and number == right):
            continue
        if all(canonical_answer(printed) != canonical_answer(a) for _, a in wrong):
            wrong.append((variant, printed))
        if len(wrong) == WRONG_ANSWERS:
            break
    return Known(problem=problem, program=program, answer=_printed(program) or answer, wrong=tuple(wrong))


# What each kind of call says (a phrase of its prompt template), first match wins; anything else is a solve.
CALLS: tuple[tuple[str, str], ...] = (
    ("judge", "Is the final answer of the proposed solution correct?"),
    ("extract", "What final answer does this solution give?"),
    ("check", "solves this problem on its own"),
    ("plan", "different expert roles"),
    ("select", "Candidate roles:"),
    ("recall", "Recall a different problem"),
    ("strategy", "Applies when:"),
    ("tests", "NEW tests"),
    ("verdict", "VERDICT: CORRECT"),
    ("curate", "Rewrite the cheatsheet"),
    ("direct", "Give only the final answer"),
)
ROLES = "Algebraist: sets up equations\nCalculator: careful arithmetic\nChecker: checks each step\nSkeptic: doubts"
STRATEGY = (
    "Strategy: name each quantity, then combine them as the question asks.\n"
    "Applies when: a word problem that combines a few stated quantities."
)


class SimulatedModel(ScriptedModel):
    """A model of `skill` on `problems` (each with its reference answer; a `metadata.program` where known)."""

    def __init__(self, problems: list[Problem], skill: Skill | None = None, *, name: str = "simulated") -> None:
        super().__init__(self.reply, name=name)
        self.skill = skill or Skill()
        self.known = [know(p) for p in problems if p.answer is not None]
        self.occurrences: Counter[str] = Counter()
        self.lies: dict[str, tuple[str, str]] = {}  # a liar's (program, answer) for each problem it was asked

    def reply(self, request: ModelRequest) -> str:
        return self.answer(request.messages, request.seed)

    def answer(self, messages: list[Message], seed: int | None = None) -> str:
        """The reply to a conversation (what the fake server calls too)."""
        last = messages[-1].content if messages else ""
        call = next((kind for kind, phrase in CALLS if phrase in last), "solve")
        if call == "plan":
            return ROLES
        if call == "select":
            return "1, 2, 3"
        if call in ("strategy", "curate"):
            return STRATEGY
        target = self._target(last)
        if target is None:
            return "I do not know this problem. \\boxed{0}"
        if self.skill.liar is not None and call != "recall":
            return self._lie(call, target, "\n".join(m.content for m in messages))
        if call in ("judge", "verdict", "extract"):
            return self._assess(call, target, last, self._draw(call, last, seed))
        if call == "recall":
            return "Similar problem: What is 12 times 7?\nSolution: 12 * 7 = 84, so \\boxed{84}."
        rng = self._draw(call, "\n".join(m.content for m in messages), seed)
        reach = 1.0 if not self.skill.needs_exemplar or self._shown_sibling(messages, target) else self.skill.alone
        right = rng.random() < self.skill.p * reach
        program, value = (target.program, target.answer) if right or not target.wrong else rng.choice(target.wrong)
        shown = first_shown(last)
        if shown is not None and rng.random() < self.skill.conform:  # it goes along with the team's best attempt
            known = [(target.program, target.answer), *target.wrong]
            program, value = next(((code, v) for code, v in known if same(v, shown)), ("", shown))
        if call == "check":
            return f"```python\n{program}\n```"
        if call == "direct" or not program or rng.random() < self.skill.prose:
            return f"The answer is \\boxed{{{value}}}."
        return f"I name each quantity and compute.\n```python\n{program}\n```\nThe answer is \\boxed{{{value}}}."

    def _lie(self, call: str, target: Known, text: str) -> str:
        """A liar's reply: its answer with a program that prints it, and full marks for itself."""
        if call == "judge":
            return "Assessment: the answer follows from the problem.\nScore: 1"
        if call == "verdict":
            return "Checked step by step.\nVERDICT: CORRECT"
        program, value = self.lies.get(target.problem.text) or self._lie_for(text)
        self.lies.setdefault(target.problem.text, (program, value))
        if call == "extract":
            return f"\\boxed{{{value}}}"
        if call == "check":
            return f"```python\n{program}\n```"
        return f"I compute it.\n```python\n{program}\n```\nThe answer is \\boxed{{{value}}}."

    def _lie_for(self, text: str) -> tuple[str, str]:
        """What the liar answers a conversation: 42, or the first exemplar's answer or program it shows."""
        shown = re.search(r"```python\n(.*?)```\s*Answer:\s*([^\s`]+)", text, re.DOTALL)
        if self.skill.liar == "copier" and shown is not None:
            return shown.group(1).strip(), shown.group(2).rstrip(".")
        if self.skill.liar == "echo" and (answer := re.search(r"Answer:\s*([-\d./]+\d)", text)) is not None:
            return f"print({answer.group(1)})", answer.group(1)
        return "print(42)", "42"

    def _target(self, text: str) -> Known | None:
        """The known problem a prompt asks about: the one it states first (exemplars come after it)."""
        found = [(at, k) for k in self.known if (at := text.find(k.problem.text)) >= 0]
        return min(found, key=lambda pair: pair[0])[1] if found else None

    def _shown_sibling(self, messages: list[Message], target: Known) -> bool:
        """Whether the conversation shows another problem of the target's family solved rightly: its text, and
        its right answer in what follows it (a wrongly solved sibling teaches the wrong method)."""
        text = "\n".join(m.content for m in messages)
        for k in self.known:
            if k.family != target.family or k is target or (at := text.find(k.problem.text)) < 0:
                continue
            after = text[at + len(k.problem.text) : at + len(k.problem.text) + 2000]
            if any(same(number, k.answer) for number in re.findall(r"-?\d+(?:\.\d+)?", after)):
                return True  # 4 written for 4.0 is the same answer
        return False

    def _draw(self, call: str, prompt: str, seed: int | None) -> random.Random:
        """A generator for this request: the same request (and its n-th repeat) always draws the same."""
        digest = hashlib.sha256(f"{call}|{seed}|{prompt}".encode()).hexdigest()
        self.occurrences[digest] += 1
        return random.Random(f"{self.skill.seed}|{digest}|{self.occurrences[digest]}")

    def _assess(self, call: str, target: Known, prompt: str, rng: random.Random) -> str:
        """The judge's score, a self-check's verdict, or the answer a solution gives."""
        solution = prompt.split("Proposed solution:", 1)[-1].split("Solution:", 1)[-1]
        said = solution_answer(solution)
        if call == "extract":
            return f"\\boxed{{{said}}}" if said is not None else "I cannot tell."
        right = said is not None and same(said, target.answer)
        judge = self.skill.judge
        verdict = (right if rng.random() < 0.9 else not right) if judge == "informative" else judge == "uninformative"
        verdict = not right if judge == "adversarial" else verdict
        if call == "verdict":
            return f"Checked step by step.\nVERDICT: {'CORRECT' if verdict else 'WRONG'}"
        return f"Assessment: {'the answer follows' if verdict else 'the answer is off'}.\nScore: {int(verdict)}"


SHARED = "The team's best attempts so far"


def first_shown(prompt: str) -> str | None:
    """The answer of the first of the team's attempts a solver prompt shows (`render_shared`), if any."""
    if SHARED not in prompt:
        return None
    block = prompt.split(SHARED, 1)[1].split("\n### ", 2)
    return solution_answer(block[1].split("\nJudge", 1)[0]) if len(block) > 1 else None


def solution_answer(solution: str) -> str | None:
    """The answer a solution as shown to a judge gives: what its program printed (the team shows it), else what
    it says. A program in a prompt is never run here: a prompt may come from anyone."""
    if "[program output]" in solution:
        printed = solution.rsplit("[program output]", 1)[1]
        printed = printed.split("\n\nIs the final answer", 1)[0]
        return answer_from_output(printed)
    return extract_answer(solution, "math")


def same(a: str, b: str) -> bool:
    x, y = as_number(a), as_number(b)
    if x is not None and y is not None:
        return abs(x - y) <= 1e-6 * max(1.0, abs(y))
    return canonical_answer(a) == canonical_answer(b)


__all__ = ["CALLS", "JudgeKind", "Known", "SimulatedModel", "Skill", "know", "same", "solution_answer"]
