"""Cross-cutting behaviour as models that wrap a model: deadline, concurrency limit, retry, metering.

Each wrapper is itself a `Model`, so they stack in any order and none of this lives in the agents.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

from xolver.errors import ModelError, ModelTimeout, ModelTruncated
from xolver.llm.base import Model, ModelRequest, ModelResponse
from xolver.llm.limits import ConcurrencyLimit, rejected
from xolver.llm.usage import charge, log_call
from xolver.schema import ModelCall, Usage


class WrapperModel:
    """Delegates to `wrapped`; subclasses override `complete` and call `super().complete`."""

    def __init__(self, wrapped: Model) -> None:
        self.wrapped = wrapped

    @property
    def name(self) -> str:
        return self.wrapped.name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self.wrapped.complete(request)

    async def aclose(self) -> None:
        await self.wrapped.aclose()


class DeadlineModel(WrapperModel):
    """Fails an attempt that outlives `seconds` with `ModelTimeout` (which the retry layer retries)."""

    def __init__(self, wrapped: Model, seconds: float) -> None:
        super().__init__(wrapped)
        self.seconds = seconds

    async def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            async with asyncio.timeout(self.seconds):
                return await super().complete(request)
        except TimeoutError as exc:
            raise ModelTimeout(f"{self.name}: no reply within {self.seconds:g}s", model=self.name) from exc


class LimitedModel(WrapperModel):
    """Calls go through the endpoint's concurrency limit, which learns from how each one ends.

    A call the server turned away for load (429, 503) is not a failure of the call but of the limit: it is
    sent again after the wait the server asked for (else a jittered backoff from `base_delay`), up to
    `resends` times, without spending the retries that `RetryingModel` keeps for real failures.
    """

    def __init__(
        self, wrapped: Model, limit: ConcurrencyLimit, *, resends: int = 12, base_delay: float = 0.5,
        max_delay: float = 20.0,
    ) -> None:  # fmt: skip
        super().__init__(wrapped)
        self.limit = limit
        self.resends = resends
        self.base_delay = base_delay
        self.max_delay = max_delay

    async def complete(self, request: ModelRequest) -> ModelResponse:
        for attempt in range(self.resends + 1):
            await self.limit.acquire()
            start = time.perf_counter()
            try:
                response = await super().complete(request)
            except ModelError as exc:
                self.limit.overloaded(exc)  # a Retry-After holds the next `acquire`
                if not rejected(exc) or attempt == self.resends:
                    raise
                told = exc.retry_after is not None
            else:
                kind = (request.role, request.max_tokens)
                self.limit.succeeded(kind, time.perf_counter() - start, response.usage.completion_tokens)
                return response
            finally:
                self.limit.release()
            charge(Usage(rejected=1))
            if not told:
                await asyncio.sleep(min(self.max_delay, self.base_delay * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # the loop always returns or raises


class RetryingModel(WrapperModel):
    """Retries retryable failures (timeouts, 429, 5xx, refused connections) with jittered backoff, never sooner
    than a provider's `Retry-After`."""

    def __init__(self, wrapped: Model, retries: int, *, base_delay: float = 0.5, max_delay: float = 20.0) -> None:
        super().__init__(wrapped)
        self.retries = retries
        self.base_delay = base_delay
        self.max_delay = max_delay

    async def complete(self, request: ModelRequest) -> ModelResponse:
        for attempt in range(self.retries + 1):
            try:
                return await super().complete(request)
            except ModelError as exc:
                if not exc.retryable or attempt == self.retries:
                    raise
                charge(Usage(retries=1))
                delay = min(self.max_delay, self.base_delay * 2**attempt) * random.uniform(0.5, 1.0)
                await asyncio.sleep(max(delay, exc.retry_after or 0.0))
        raise AssertionError("unreachable")  # the loop always returns or raises


class MeteredModel(WrapperModel):
    """Charges calls, tokens, cost, seconds, failures and cut replies to the open usage scopes, and
    records each call (request and reply) in the open call logs."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        start = time.perf_counter()
        call = {
            "role": request.role, "model": self.name, "messages": request.messages,
            "temperature": request.temperature, "max_tokens": request.max_tokens, "seed": request.seed,
            "started_at": datetime.now(UTC),
        }  # fmt: skip
        try:
            response = await super().complete(request)
        except ModelError as exc:
            usage = Usage(calls=1, failed_calls=1, seconds=time.perf_counter() - start)
            charge(usage)
            log_call(ModelCall(**call, usage=usage, seconds=usage.seconds, error=str(exc)))
            raise
        seconds = time.perf_counter() - start
        usage = response.usage.model_copy(
            update={"calls": 1, "seconds": seconds, "truncated": int(response.finish_reason == "length")}
        )
        charge(usage)
        done = {"text": response.text, "reasoning": response.reasoning, "finish_reason": response.finish_reason}
        log_call(ModelCall(**call, **done, usage=usage, seconds=seconds))
        return response


class TruncationModel(WrapperModel):
    """A reply cut at its token limit is never an answer: it is asked for once more with `growth` times
    the limit (at least `thinking` tokens when it was cut while thinking, at least the request's
    `cut_retry_tokens` when nobody knows yet whether the model thinks: a reply cut before its `</think>` shows
    no thinking; at most `ceiling`), and if that is cut too the call fails with `ModelTruncated`."""

    def __init__(self, wrapped: Model, *, growth: float = 2.0, thinking: int = 8192, ceiling: int = 32768) -> None:
        super().__init__(wrapped)
        self.growth = growth
        self.thinking = thinking
        self.ceiling = ceiling

    async def complete(self, request: ModelRequest) -> ModelResponse:
        response = await super().complete(request)
        if response.finish_reason != "length":
            return response
        wanted = max(
            int(request.max_tokens * self.growth), self.thinking if response.reasoning else 0,
            request.cut_retry_tokens or 0,
        )  # fmt: skip
        larger = min(self.ceiling, wanted)
        if larger > request.max_tokens:
            response = await super().complete(request.model_copy(update={"max_tokens": larger}))
            if response.finish_reason != "length":
                return response
        raise ModelTruncated(
            f"{self.name}: the reply was cut at its limit of {response.usage.completion_tokens or larger} tokens "
            f"(finish_reason: length); raise this role's token limit",
            model=self.name,
        )
