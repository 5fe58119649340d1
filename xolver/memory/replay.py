"""Replaying a recorded solve's retrieval: a store that finds the exemplars the solve was shown, and keeps nothing."""

from __future__ import annotations

from collections.abc import Sequence

from xolver.memory.base import ExperienceHit
from xolver.schema import Experience, TaskKind


class RecordedExemplars:
    """Answers every search with the recorded exemplars that came from memory (not the model's own
    recollections, which the replayed model recalls again); writes and use counts go nowhere."""

    def __init__(self, exemplars: Sequence[Experience]) -> None:
        self.exemplars = [e for e in exemplars if e.provenance.get("recalled_for") is None]

    async def search(
        self,
        query: str,
        *,
        k: int,
        task_kind: TaskKind | None = None,
        trusted_only: bool = True,
        exclude: str | None = None,
    ) -> list[ExperienceHit]:
        """The recorded exemplars in their recorded order (the loop lays a hit's records out in a row)."""
        if not self.exemplars:
            return []
        first, *rest = self.exemplars
        return [ExperienceHit(experience=first, score=1.0, related=rest)]

    async def add(self, experiences: Sequence[Experience]) -> list[str]:
        return [e.id for e in experiences]

    async def record_use(self, ids: Sequence[str], *, success: bool) -> None:
        """Counts nothing: a replay leaves memory as it was."""

    async def aclose(self) -> None:
        """Holds nothing."""
