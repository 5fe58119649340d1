"""The experience-memory seam: what the loop needs from a store of past experience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from xolver.schema import Experience, TaskKind


class ExperienceHit(BaseModel):
    """One retrieved experience and how well it matched (higher is better; scale is the store's)."""

    experience: Experience
    score: float


@runtime_checkable
class ExperienceStore(Protocol):
    async def search(
        self, query: str, *, k: int, task_kind: TaskKind | None = None, verified_only: bool = True
    ) -> list[ExperienceHit]:
        """The `k` experiences most relevant to `query`."""
        ...

    async def add(self, experiences: Sequence[Experience]) -> list[str]:
        """Store experiences; returns their ids."""
        ...

    async def record_use(self, ids: Sequence[str], *, success: bool) -> None:
        """Count that these experiences were shown to the team, and whether the solve succeeded."""
        ...
