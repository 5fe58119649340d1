"""Replaying a recorded solve's model calls: a `Model` that answers each request with the reply it got.

A request is answered by the first unused recorded call with the same role, messages, temperature,
token limit and seed. When today's code asks something the recording never saw (a prompt rule or a
parser changed what goes into a prompt), it gets the unused recorded reply of the same role whose prompt
is most like it (`nearest`, with its similarity); when today's code asks more than the recording holds
(an extra round), the most similar reply of that role is given again (`reused`). With `strict`, or when
the recording has no call of that role at all, the call fails as a model error, which the team records
and survives as it would a real one. Every answer is kept in `matches`, so a replay can say how faithful
it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Literal

from xolver.errors import ModelError
from xolver.llm.base import ModelRequest, ModelResponse
from xolver.schema import AgentRole, ModelCall, Record, Usage


class ReplayMatch(Record):
    """How one request of a replay was answered."""

    role: AgentRole
    how: Literal["exact", "nearest", "reused", "missing"]
    similarity: float = 1.0


class ReplayBook:
    """The recorded calls of one solve, each given out once."""

    def __init__(self, calls: Sequence[ModelCall], *, strict: bool = False) -> None:
        self.calls = list(calls)
        self.used = [False] * len(self.calls)
        self.strict = strict
        self.matches: list[ReplayMatch] = []

    def answer(self, request: ModelRequest) -> ModelCall:
        """The recorded call that answers `request`; raises `ModelError` when none may."""
        same_role = [i for i, call in enumerate(self.calls) if call.role == request.role]
        candidates = [i for i in same_role if not self.used[i]]
        same = [
            i for i in candidates
            if self.calls[i].messages == request.messages and self.calls[i].temperature == request.temperature
            and self.calls[i].seed == request.seed
        ]  # fmt: skip
        # the same request; its token limit may differ (a model found to think gets larger limits, and which call
        # learns that first depends on the order replies came in), but the same limit is taken first
        exact = next((i for i in same if self.calls[i].max_tokens == request.max_tokens), same[0] if same else None)
        if exact is not None:
            return self._give(exact, ReplayMatch(role=request.role, how="exact"))
        if same_role and not self.strict:
            pool = candidates or same_role
            prompt = request.prompt
            similarity, nearest = max((SequenceMatcher(None, prompt, _prompt(self.calls[i])).ratio(), -i) for i in pool)
            how: Literal["nearest", "reused"] = "nearest" if candidates else "reused"
            return self._give(-nearest, ReplayMatch(role=request.role, how=how, similarity=round(similarity, 4)))
        self.matches.append(ReplayMatch(role=request.role, how="missing", similarity=0.0))
        why = "its prompt differs from every unused recorded one (strict replay)" if same_role else "none was recorded"
        raise ModelError(f"replay: no recorded reply for this {request.role} request: {why}", model="replay")

    def _give(self, index: int, match: ReplayMatch) -> ModelCall:
        self.used[index] = True
        self.matches.append(match)
        return self.calls[index]

    def unused(self) -> list[ModelCall]:
        """Recorded calls nobody asked for again (today's code asks fewer questions)."""
        return [call for call, used in zip(self.calls, self.used, strict=True) if not used]


def _prompt(call: ModelCall) -> str:
    return "\n\n".join(m.content for m in call.messages)


class ReplayModel:
    """A `Model` named like the recorded one, answering from `book` (shared by the roles of one solve)."""

    def __init__(self, book: ReplayBook, name: str) -> None:
        self.book = book
        self.name = name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        call = self.book.answer(request)
        if call.error is not None:
            raise ModelError(call.error, model=call.model)  # the recorded failure, after its retries
        usage = Usage(
            prompt_tokens=call.usage.prompt_tokens, completion_tokens=call.usage.completion_tokens,
            reasoning_tokens=call.usage.reasoning_tokens, cost=call.usage.cost,
        )  # fmt: skip
        return ModelResponse(
            text=call.text, model=call.model, reasoning=call.reasoning, finish_reason=call.finish_reason, usage=usage
        )

    async def aclose(self) -> None:
        """Holds nothing."""
