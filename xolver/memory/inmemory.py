"""An experience store held in a dict, ranked by word overlap: for tests and throwaway sessions.

It keeps the store contract the loop relies on: trusted records only by default, never the problem
being solved, one slot per solved problem with its other records attached.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xolver.memory.base import ExperienceHit
from xolver.memory.views import DEFAULT_VIEWS, lexical_text, problem_key, same_problem
from xolver.schema import Experience, TaskKind


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class InMemoryExperienceStore:
    """Keeps experiences in memory; relevance is the Jaccard overlap of the words of every view."""

    def __init__(self, experiences: Sequence[Experience] = ()) -> None:
        self.experiences: dict[str, Experience] = {e.id: e for e in experiences}

    async def search(
        self,
        query: str,
        *,
        k: int,
        task_kind: TaskKind | None = None,
        trusted_only: bool = True,
        exclude: str | None = None,
    ) -> list[ExperienceHit]:
        allowed = [
            e
            for e in self.experiences.values()
            if (task_kind is None or e.task_kind == task_kind) and (e.trusted or not trusted_only)
        ]
        banned = {problem_key(e) for e in allowed if exclude is not None and same_problem(e.problem, exclude)}
        allowed = [e for e in allowed if problem_key(e) not in banned]
        words = _words(query)
        scored = []
        for experience in allowed:
            other = _words(lexical_text(experience, DEFAULT_VIEWS))
            overlap = len(words & other) / (len(words | other) or 1)
            if overlap > 0:
                scored.append((overlap, experience))
        scored.sort(key=lambda pair: pair[0], reverse=True)
        hits: dict[str, ExperienceHit] = {}
        for overlap, experience in scored:
            key = problem_key(experience)
            if key not in hits and len(hits) < k:
                related = [e for e in allowed if problem_key(e) == key and e.id != experience.id]
                hits[key] = ExperienceHit(experience=experience, score=overlap, related=related)
        return list(hits.values())

    async def add(self, experiences: Sequence[Experience]) -> list[str]:
        for experience in experiences:
            self.experiences[experience.id] = experience
        return [e.id for e in experiences]

    async def record_use(self, ids: Sequence[str], *, success: bool) -> None:
        for id_ in ids:
            if id_ in self.experiences:
                experience = self.experiences[id_]
                experience.uses += 1
                experience.successes += int(success)

    async def aclose(self) -> None:
        """Holds nothing outside this object."""
