"""The team's shared memory between iterations: the top-m judged candidates, and when to stop."""

from __future__ import annotations

import ast
import builtins
from collections import Counter

from xolver.schema import JUDGE_WEIGHT, Candidate
from xolver.team.parsing import canonical_answer
from xolver.team.programs import program_answered

ANALOGY = "analogy"  # the role of a candidate rebound from a verified solve's program (xolver.team.analogy)


def answer_key(candidate: Candidate) -> str | None:
    """What two candidates must share to agree: the canonical answer, or the code for code problems."""
    return canonical_answer(candidate.answer) if candidate.answer is not None else candidate.code


def support(candidate: Candidate) -> float:
    """How much a candidate's answer counts in a vote: 1 when its own program ran and printed it, 1/2 when
    it only wrote it down, 0 when its program failed, printed nothing (whatever it wrote then is
    unsupported) or computed with an example's numbers instead of the problem's."""
    if candidate.copied is not None:
        return 0.0
    answered = program_answered(candidate)
    return 0.5 if answered is None else float(answered)


def evidence_key(candidate: Candidate) -> str:
    """What two candidates must differ in for their agreement to count twice: the program that printed the
    answer, else the reasoning. Agents decoding greedily from near-identical prompts often write the very same
    program (SmolLM2-135M: three agents, one `print(20 * 4)`); that is one piece of evidence, not three."""
    runs = [call for call in candidate.tool_calls if call.tool == "python"]
    if not runs:
        return " ".join(candidate.reasoning.split())
    code = str(runs[-1].arguments.get("code", ""))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return " ".join(code.split())
    return ast.unparse(_Renamed().visit(tree))  # comments, layout and names make no program of their own


class _Renamed(ast.NodeTransformer):
    """Every variable renamed by the order it first appears: `cost = 9 * 30` and `total = 9 * 30` are one
    program."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id not in _BUILTINS:
            node.id = self.names.setdefault(node.id, f"v{len(self.names)}")
        return node


_BUILTINS = frozenset(dir(builtins))


def distinct_support(candidates: list[Candidate]) -> dict[str | None, float]:
    """Each answer's vote: the support of every distinct program (or reasoning) that gave it, counted once."""
    best: dict[tuple[str | None, str], float] = {}
    for c in candidates:
        if (key := answer_key(c)) is not None:
            slot = (key, evidence_key(c))
            best[slot] = max(best.get(slot, 0.0), support(c))
    votes: dict[str | None, float] = {}
    for (key, _), value in best.items():
        votes[key] = votes.get(key, 0.0) + value
    return votes


class SharedMemory:
    """Keeps the best `capacity` candidates seen so far.

    Code candidates rank by score (their tests), then by how many agree, then the later attempt. Other
    candidates rank by the vote of every candidate seen so far (m x I of them): the support of their
    answer, executed programs counting double and the same program written twice counting once, plus
    `judge_weight` times the judge's score; a judge model of the team's own size alone does not pick the
    answer. On a tied vote a program rebound from a verified solve (an `analogy`) ranks first: on the
    embedded model's family run 17 of 46 such candidates were right, 4 of 79 of the agents' own; among
    analogies, the one from the best retrieved exemplar. Then the scored candidates before the ones the
    judge could not score; failed candidates are never kept.
    """

    def __init__(self, capacity: int, *, by_tests: bool = False, judge_weight: float = JUDGE_WEIGHT) -> None:
        self.capacity = capacity
        self.by_tests = by_tests
        self.judge_weight = judge_weight
        self.kept: list[Candidate] = []
        self.seen: list[Candidate] = []
        self.top_answers: list[str | None] = []

    @property
    def best(self) -> Candidate | None:
        return self.kept[0] if self.kept else None

    def update(self, candidates: list[Candidate]) -> None:
        self.seen += [c for c in candidates if c.error is None]
        pool = {c.id: c for c in [*self.kept, *candidates] if c.error is None and c.judgement is not None}
        agree = Counter(answer_key(c) for c in pool.values() if answer_key(c) is not None)
        votes = distinct_support(self.seen)

        def rank(c: Candidate) -> tuple[float, ...]:
            score = c.score if c.score is not None else -1.0
            if self.by_tests:
                return (score, agree.get(answer_key(c), 0), c.iteration)
            vote = votes.get(answer_key(c), 0.0) + self.judge_weight * max(score, 0.0)
            scored = 1.0 if c.score is not None else 0.0  # an unscored candidate only wins on the vote
            rebound = c.role == ANALOGY  # analogies in the order of their exemplars: the best retrieved first
            return (vote, rebound, -c.agent if rebound else 0, scored, c.iteration)

        self.kept = sorted(pool.values(), key=rank, reverse=True)[: self.capacity]
        self.top_answers.append(answer_key(self.best) if self.best else None)

    def converged(self) -> bool:
        """Every kept candidate has full marks and they all give the same answer."""
        if len(self.kept) < self.capacity:
            return False
        keys = {answer_key(c) for c in self.kept}
        return all(c.score == 1.0 for c in self.kept) and len(keys) == 1 and None not in keys

    def stable(self, patience: int) -> bool:
        """The top answer has not changed for `patience` rounds."""
        recent = self.top_answers[-patience:]
        return len(recent) == patience and recent[0] is not None and len(set(recent)) == 1
