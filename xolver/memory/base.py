"""The experience-memory seam: what the loop needs from a store of past experience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from xolver.schema import Experience, TaskKind


class ExperienceHit(BaseModel):
    """One retrieved experience: its fused rank score (higher is better; scale is the store's), its
    similarity to the query when known, and whether search found it or the graph linked it in."""

    experience: Experience
    score: float
    similarity: float | None = None
    via: Literal["search", "graph"] = "search"


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

    async def aclose(self) -> None:
        """Release the store (whoever opened it closes it)."""
        ...
