"""The model client's wrappers: deadline, retry, concurrency limit, metering; and the test guard."""

from __future__ import annotations

import asyncio

import pytest

from xolver.errors import (
    ModelRateLimited,
    ModelRequestRejected,
    ModelServerError,
    ModelTimeout,
    RealModelRequestBlocked,
)
from xolver.llm import LiteLLMModel, Message, ModelClient, usage_scope
from xolver.llm.base import ModelRequest
from xolver.llm.embedded import EmbeddedModel
from xolver.llm.testing import ScriptedModel

HELLO = [Message(role="user", content="hello")]


def client(model: ScriptedModel, **kwargs: object) -> ModelClient:
    settings = {"timeout": 1.0, "retries": 2, "retry_base_delay": 0.0, **kwargs}
    return ModelClient(model, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [ModelServerError("500", status=500), ModelRateLimited("429"), ModelTimeout("t")])
async def test_retryable_errors_are_retried_then_succeed(error: Exception) -> None:
    attempts = 0

    def fn(request: ModelRequest) -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise error
        return "ok"

    with usage_scope() as usage:
        response = await client(ScriptedModel(fn)).complete("solver", HELLO)
    assert response.text == "ok" and attempts == 3
    # a 429 is the limit's to absorb (sent again, counted apart); other failures spend retries
    counted = "rejected" if isinstance(error, ModelRateLimited) else "retries"
    assert usage.calls == 1 and getattr(usage, counted) == 2 and usage.failed_calls == 0


async def test_a_rejected_request_is_not_retried() -> None:
    attempts = 0

    def fn(request: ModelRequest) -> str:
        nonlocal attempts
        attempts += 1
        raise ModelRequestRejected("400 bad request")

    with usage_scope() as usage, pytest.raises(ModelRequestRejected):
        await client(ScriptedModel(fn)).complete("solver", HELLO)
    assert attempts == 1 and usage.failed_calls == 1


async def test_a_hanging_call_times_out_per_attempt() -> None:
    async def fn(request: ModelRequest) -> str:
        await asyncio.sleep(5)
        return "late"

    with usage_scope() as usage, pytest.raises(ModelTimeout, match=r"no reply within 0\.1s"):
        await client(ScriptedModel(fn), timeout=0.1, retries=1).complete("judge", HELLO)
    assert usage.retries == 1 and usage.failed_calls == 1


async def test_concurrency_limit_is_respected() -> None:
    in_flight = peak = 0

    async def fn(request: ModelRequest) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return "x"

    c = client(ScriptedModel(fn), max_concurrency=3)
    async with asyncio.TaskGroup() as group:
        for _ in range(10):
            group.create_task(c.complete("solver", HELLO))
    assert peak == 3


def test_the_client_works_across_event_loops() -> None:
    c = client(ScriptedModel(lambda r: "x"), max_concurrency=1)
    for _ in range(2):  # a semaphore bound to the first loop would break the second run

        async def burst() -> None:
            async with asyncio.TaskGroup() as group:
                for _ in range(3):
                    group.create_task(c.complete("solver", HELLO))

        asyncio.run(burst())


async def test_usage_scopes_nest_and_stay_apart_across_tasks() -> None:
    c = client(ScriptedModel(lambda r: "one two three"))
    with usage_scope() as outer:

        async def one(n: int) -> int:
            with usage_scope() as inner:
                for _ in range(n):
                    await c.complete("solver", HELLO)
            return inner.calls

        async with asyncio.TaskGroup() as group:
            a, b = group.create_task(one(1)), group.create_task(one(2))
    assert (a.result(), b.result(), outer.calls) == (1, 2, 3)
    assert outer.completion_tokens == 9


def test_roles_can_have_their_own_models() -> None:
    judge = ScriptedModel(lambda r: "Score: 1", name="judge-model")
    solver = ScriptedModel(lambda r: "x", name="solver-model")
    c = ModelClient({"planner": solver, "solver": solver, "coder": solver, "judge": judge, "verifier": solver})
    assert c.model_names()["judge"] == "judge-model" and c.model_names()["solver"] == "solver-model"
    with pytest.raises(ValueError, match="no model for roles: judge"):
        ModelClient({"planner": solver, "solver": solver, "coder": solver, "verifier": solver})


async def test_the_guard_blocks_real_model_requests_in_tests() -> None:
    with pytest.raises(RealModelRequestBlocked):
        await LiteLLMModel("openai/gpt-4o").complete(ModelRequest(role="solver", messages=HELLO))
    with pytest.raises(RealModelRequestBlocked):
        await EmbeddedModel().complete(ModelRequest(role="solver", messages=HELLO))
