"""The experience-memory seam: what the loop needs from a store of past experience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from xolver.schema import Experience, TaskKind


class ExperienceHit(BaseModel):
    """One retrieved slot: one solved problem. `experience` is the record that matched, `related` the other
    records of the same problem (its strategy, solution, code), `score` the fused rank score (higher is
    better; scale is the store's) and `similarity` the record's best view similarity to the query."""

    experience: Experience
    score: float
    similarity: float | None = None
    related: list[Experience] = Field(default_factory=list)

    @property
    def records(self) -> list[Experience]:
        """The slot as shown to the team: the match first, then what came with it."""
        return [self.experience, *self.related]


@runtime_checkable
class ExperienceStore(Protocol):
    async def search(
        self,
        query: str,
        *,
        k: int,
        task_kind: TaskKind | None = None,
        trusted_only: bool = True,
        exclude: str | None = None,
    ) -> list[ExperienceHit]:
        """Up to `k` solved problems most relevant to `query`, one slot each. `trusted_only` keeps seed and
        imported records and verified ones of our own; `exclude` is the text of the problem being solved,
        whose records are never returned (nor a near-exact copy's)."""
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
