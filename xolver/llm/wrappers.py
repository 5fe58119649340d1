"""Cross-cutting behaviour as models that wrap a model: deadline, concurrency limit, retry, metering.

Each wrapper is itself a `Model`, so they stack in any order and none of this lives in the agents.
"""

from __future__ import annotations

import asyncio
import random
import time

from xolver.aio import LoopLimit
from xolver.errors import ModelError, ModelTimeout
from xolver.llm.base import Model, ModelRequest, ModelResponse
from xolver.llm.usage import charge
from xolver.schema import Usage


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
    """At most `limit` calls in flight (per event loop, so sync calls in turn still work)."""

    def __init__(self, wrapped: Model, limit: int) -> None:
        super().__init__(wrapped)
        self.limit = LoopLimit(limit)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        async with self.limit.slot():
            return await super().complete(request)


class RetryingModel(WrapperModel):
    """Retries retryable failures (timeouts, 429, 5xx, refused connections) with jittered backoff."""

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
                delay = min(self.max_delay, self.base_delay * 2**attempt)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # the loop always returns or raises


class MeteredModel(WrapperModel):
    """Charges calls, tokens, cost, seconds and failures to the open usage scopes."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        start = time.perf_counter()
        try:
            response = await super().complete(request)
        except ModelError:
            charge(Usage(calls=1, failed_calls=1, seconds=time.perf_counter() - start))
            raise
        delta = response.usage.model_copy(update={"calls": 1, "seconds": time.perf_counter() - start})
        charge(delta)
        return response
