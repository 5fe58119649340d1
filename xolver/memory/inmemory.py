"""An experience store held in a dict, ranked by word overlap: for tests and throwaway sessions."""

from __future__ import annotations

import re
from collections.abc import Sequence

from xolver.memory.base import ExperienceHit
from xolver.schema import Experience, TaskKind


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class InMemoryExperienceStore:
    """Keeps experiences in memory; relevance is the Jaccard overlap of problem words."""

    def __init__(self, experiences: Sequence[Experience] = ()) -> None:
        self.experiences: dict[str, Experience] = {e.id: e for e in experiences}

    async def search(
        self, query: str, *, k: int, task_kind: TaskKind | None = None, verified_only: bool = True
    ) -> list[ExperienceHit]:
        words = _words(query)
        hits = []
        for experience in self.experiences.values():
            if task_kind is not None and experience.task_kind != task_kind:
                continue
            if verified_only and not experience.verified:
                continue
            other = _words(experience.problem + " " + experience.content)
            overlap = len(words & other) / (len(words | other) or 1)
            if overlap > 0:
                hits.append(ExperienceHit(experience=experience, score=overlap))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:k]

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
