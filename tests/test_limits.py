"""The concurrency limit per model endpoint: it finds a server's capacity, honours Retry-After, loses no call
to a 429 storm, settles at a batching server's knee, and is shared by clients of one endpoint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from fake_server import spawn  # tools/, on the path from conftest

from xolver.errors import ModelError, ModelRateLimited
from xolver.llm.base import ModelRequest
from xolver.llm.client import ModelClient
from xolver.llm.limits import AdaptiveLimit, live_limits
from xolver.llm.litellm_model import LiteLLMModel, retry_after
from xolver.llm.testing import ScriptedModel
from xolver.schema import ChatMessage, Settings

HELLO = [ChatMessage(role="user", content="hello")]


class Server:
    """An in-process server with `capacity` sequence slots (more requests queue) and `service` seconds a call."""

    def __init__(self, capacity: int, service: float) -> None:
        self.slots = asyncio.Semaphore(capacity)
        self.service = service
        self.peak = self.in_flight = 0

    async def reply(self, request: ModelRequest) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            async with self.slots:
                await asyncio.sleep(self.service)
        finally:
            self.in_flight -= 1
        return "four"


async def burst(client: ModelClient, calls: int) -> float:
    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(calls):
            group.create_task(client.complete("solver", HELLO))
    return time.perf_counter() - start


def adaptive(model: ScriptedModel, **settings: object) -> ModelClient:
    return ModelClient.from_config(Settings(retry_delay=0.01, timeout=5.0, **settings), model)  # type: ignore[arg-type]


@pytest.mark.parametrize("capacity", [4, 48])
async def test_the_adaptive_limit_finds_the_capacity_it_was_not_told(capacity: int) -> None:
    server = Server(capacity, service=0.05)
    calls = capacity * 30  # a fixed 16 would take 3 times as long at 48; the ramp costs about 2 rounds
    told, walls = [], []
    for _ in range(3):  # side by side, each with a fresh client, best of three: the machine may be shared
        fixed = adaptive(ScriptedModel(server.reply), concurrency_limit="fixed", max_concurrency=capacity)
        told.append(await burst(fixed, calls))
        client = adaptive(ScriptedModel(server.reply))
        walls.append(await burst(client, calls))
        assert client.limits[0].state().limit >= capacity  # it went past the old fixed 16 where the server allowed
    assert min(walls) <= 1.35 * min(told), f"{walls} s against {told} s with the capacity as a fixed limit"


async def test_the_fixed_limit_is_kept_when_asked_for() -> None:
    server = Server(64, service=0.02)
    await burst(adaptive(ScriptedModel(server.reply), concurrency_limit="fixed", max_concurrency=5), 40)
    assert server.peak == 5


async def test_the_limit_does_not_grow_while_callers_leave_it_unused() -> None:
    client = adaptive(ScriptedModel(Server(64, 0.005).reply))
    for _ in range(60):  # one call at a time: there is no evidence that 32 would be served as fast
        await client.complete("solver", HELLO)
    assert client.limits[0].state().limit == 16


async def test_a_growing_latency_shrinks_the_limit() -> None:
    limit = AdaptiveLimit(initial=64, tolerance=1.5)
    for second in range(1, 40):
        limit._window_start = -1e9  # every reply closes a window
        limit.succeeded("solve", seconds=1.0 if second == 1 else 4.0, tokens=10)
    assert limit.allowed < 32


async def test_a_retry_after_holds_every_new_call_and_no_call_fails() -> None:
    sent: list[float] = []

    def fn(request: ModelRequest) -> str:
        sent.append(time.monotonic())
        if len(sent) == 1:
            raise ModelRateLimited("429", retry_after=0.3)
        return "ok"

    client = adaptive(ScriptedModel(fn))
    first = asyncio.create_task(client.complete("solver", HELLO))
    await asyncio.sleep(0.05)
    await client.complete("solver", HELLO)  # sent after the 429: it waits out the pause too
    assert (await first).text == "ok"
    assert sent[1] - sent[0] >= 0.29 and sent[2] - sent[0] >= 0.29
    assert client.limits[0].state().rejections == 1


async def test_a_429_storm_loses_no_call_and_spends_no_retry() -> None:
    attempts: dict[str, int] = {}

    def fn(request: ModelRequest) -> str:
        key = request.messages[-1].content
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] <= 6:  # more rejections than the client has retries
            raise ModelRateLimited("429")
        return "ok"

    client = adaptive(ScriptedModel(fn), retries=1)
    results = await asyncio.gather(
        *(client.complete("solver", [HELLO[0].model_copy(update={"content": f"q{i}"})]) for i in range(20)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert client.limits[0].state().cuts >= 1


async def test_a_call_refused_every_time_still_fails_in_the_end() -> None:
    def fn(request: ModelRequest) -> str:
        raise ModelRateLimited("429")

    client = ModelClient(ScriptedModel(fn), retries=0, retry_base_delay=0.0, concurrency_limit="adaptive")
    with pytest.raises(ModelError):
        await client.complete("solver", HELLO)


def test_retry_after_headers_are_read() -> None:
    assert retry_after({"retry-after-ms": "250", "Retry-After": "1"}) == 0.25
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert 0 <= retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) < 1  # (past) date
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None


def test_clients_of_one_endpoint_share_its_limit_and_the_progress_line_sees_it() -> None:
    def client(api_base: str) -> ModelClient:
        return ModelClient(LiteLLMModel("openai/x", api_base=api_base), concurrency_limit="adaptive")

    one, two, other = client("http://h:1/v1"), client("http://h:1/v1"), client("http://h:2/v1")
    assert one.limits[0] is two.limits[0] and other.limits[0] is not one.limits[0]
    assert {"openai/x@http://h:1/v1", "openai/x@http://h:2/v1"} <= {s.endpoint for s in live_limits()}


@pytest.fixture
def rate_limited() -> Iterator[str]:
    process, api_base = spawn(["--ttft", "0.02", "--rate", "2000", "--output-tokens", "16", "--rate-limit", "30"])
    yield api_base
    process.terminate()
    process.wait()


@pytest.mark.real_model
async def test_a_rate_limited_server_through_litellm_loses_no_call(rate_limited: str) -> None:
    client = ModelClient.from_config(Settings(model="openai/fake", api_base=rate_limited, retry_delay=0.05, retries=1))
    start = time.perf_counter()
    await burst(client, 90)  # three windows' worth
    assert time.perf_counter() - start >= 2.0  # the server admitted 30 a second
    assert client.limits[0].state().rejections > 0
