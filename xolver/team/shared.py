"""The team's shared memory between iterations: the top-m judged candidates, and when to stop."""

from __future__ import annotations

from collections import Counter

from xolver.schema import Candidate
from xolver.team.parsing import canonical_answer


def answer_key(candidate: Candidate) -> str | None:
    """What two candidates must share to agree: the canonical answer, or the code for code problems."""
    return canonical_answer(candidate.answer) if candidate.answer is not None else candidate.code


class SharedMemory:
    """Keeps the best `capacity` candidates seen so far.

    Scored candidates rank by score; among equal scores, an answer more candidates agree on wins, then
    the later attempt. Candidates whose judge could not score them rank below every scored one, and
    failed candidates are never kept.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.kept: list[Candidate] = []
        self.top_answers: list[str | None] = []

    @property
    def best(self) -> Candidate | None:
        return self.kept[0] if self.kept else None

    def update(self, candidates: list[Candidate]) -> None:
        pool = {c.id: c for c in [*self.kept, *candidates] if c.error is None and c.judgement is not None}
        votes = Counter(answer_key(c) for c in pool.values() if answer_key(c) is not None)

        def rank(c: Candidate) -> tuple[float, int, int]:
            score = c.score if c.score is not None else -1.0
            return (score, votes.get(answer_key(c), 0), c.iteration)

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
