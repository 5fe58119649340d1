"""The team's shared memory between iterations: the top-m judged candidates, and when to stop."""

from __future__ import annotations

from collections import Counter

from xolver.schema import Candidate
from xolver.team.parsing import canonical_answer
from xolver.team.programs import program_answered


def answer_key(candidate: Candidate) -> str | None:
    """What two candidates must share to agree: the canonical answer, or the code for code problems."""
    return canonical_answer(candidate.answer) if candidate.answer is not None else candidate.code


def support(candidate: Candidate) -> float:
    """How much a candidate's answer counts in a vote: 1 when its own program ran and printed it, 1/2 when
    it only wrote it down, 0 when its program failed or printed nothing (whatever it wrote then is
    unsupported)."""
    answered = program_answered(candidate)
    return 0.5 if answered is None else float(answered)


class SharedMemory:
    """Keeps the best `capacity` candidates seen so far.

    Code candidates rank by score (their tests), then by how many agree, then the later attempt. Other
    candidates rank by the vote of every candidate seen so far (m x I of them): the support of their
    answer, executed programs counting double, plus half the judge's score; a judge model of the team's
    own size alone does not pick the answer. Candidates the judge could not score rank below the scored
    ones; failed candidates are never kept.
    """

    JUDGE_WEIGHT = 0.5

    def __init__(self, capacity: int, *, by_tests: bool = False) -> None:
        self.capacity = capacity
        self.by_tests = by_tests
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
        votes: dict[str | None, float] = {}
        for c in self.seen:
            if answer_key(c) is not None:
                votes[answer_key(c)] = votes.get(answer_key(c), 0.0) + support(c)

        def rank(c: Candidate) -> tuple[float, float, int]:
            score = c.score if c.score is not None else -1.0
            if self.by_tests:
                return (score, agree.get(answer_key(c), 0), c.iteration)
            scored = 1.0 if c.score is not None else 0.0  # an unscored candidate only wins on the vote
            return (votes.get(answer_key(c), 0.0) + self.JUDGE_WEIGHT * max(score, 0.0), scored, c.iteration)

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
