"""The team's shared memory between iterations: the top-m candidates by the team's decision rule, and when
to stop."""

from __future__ import annotations

from xolver.profiles import GENERAL, Profile
from xolver.schema import Candidate
from xolver.team.decision import Checked, answer_key, ranked, tied


class SharedMemory:
    """Keeps the best `capacity` of every candidate seen so far (m x I of them), ranked by the decision rule
    of `profile` (`xolver.team.decision`); code candidates by their tests."""

    def __init__(
        self, capacity: int, *, by_tests: bool = False, profile: Profile = GENERAL, judge_weight: float | None = None
    ) -> None:
        self.capacity = capacity
        self.by_tests = by_tests
        self.profile = profile
        self.judge_weight = profile.judge_weight if judge_weight is None else judge_weight
        self.kept: list[Candidate] = []
        self.seen: list[Candidate] = []
        self.top_answers: list[str | None] = []

    @property
    def best(self) -> Candidate | None:
        return self.kept[0] if self.kept else None

    def _rank(self, checked: Checked | None = None) -> None:
        order = ranked(self.seen, self.profile, judge_weight=self.judge_weight, by_tests=self.by_tests,
                       checked=checked)  # fmt: skip
        self.kept = order[: self.capacity]

    def update(self, candidates: list[Candidate]) -> None:
        self.seen += [c for c in candidates if c.error is None]
        self._rank()
        self.top_answers.append(answer_key(self.best) if self.best else None)

    def contenders(self) -> list[str]:
        """The answers tied at the top of the vote (none for code, which its tests decide)."""
        return [] if self.by_tests else tied(self.seen, self.profile, judge_weight=self.judge_weight)

    def settle(self, checked: Checked) -> None:
        """Rank again with what the verifier's independent program says of the contenders."""
        self._rank(checked)

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
