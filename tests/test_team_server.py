"""`xolver serve-team`: the team behind an OpenAI-compatible API, with real clients (the openai SDK, httpx).

These run the server in the test's event loop on a scripted team; tests/test_team_server_clients.py runs
the command itself against the fake model server, with the openai SDK and litellm as clients.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import openai
import pytest
from helpers import good_team, planner_reply

from xolver import InMemoryExperienceStore, Xolver
from xolver.errors import ModelUnreachable
from xolver.llm.base import ModelRequest
from xolver.llm.testing import ScriptedModel, scripted_team
from xolver.server import TeamServer, running

FAST = {"retries": 0, "timeout": 5.0, "recall": False, "memory": False, "sandbox": "none", "agents": 3}
QUESTION = [{"role": "user", "content": "What is 347 times 29?"}]


@asynccontextmanager
async def serving(model: ScriptedModel, *, api_key: str | None = None, **settings: object) -> AsyncIterator[str]:
    async with (
        Xolver(model=model, **{**FAST, **settings}) as team,
        running(TeamServer(team, api_key=api_key)) as base_url,
    ):
        yield base_url


def client(base_url: str, key: str = "unused") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)


async def test_the_team_is_one_model_answering_with_its_reasoning_and_total_usage() -> None:
    model = good_team()
    async with serving(model) as base_url:
        api = client(base_url)
        assert [m.id for m in (await api.models.list()).data] == ["xolver"]
        assert (await api.models.retrieve("xolver")).id == "xolver"
        done = await api.chat.completions.create(model="xolver", messages=QUESTION)
    message = done.choices[0].message
    assert message.content == "10063" and done.choices[0].finish_reason == "stop"
    reasoning = message.model_extra["reasoning_content"]
    assert reasoning.startswith("team: Algebraist, Calculator, Checker\n") and "judge on Checker: 1.00" in reasoning
    calls = len(model.requests)
    scripted_tokens = sum(len(r.prompt.split()) for r in model.requests)
    assert done.usage is not None and done.usage.prompt_tokens == scripted_tokens  # every call of the team
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert done.model_extra["xolver"]["calls"] == calls and done.model_extra["xolver"]["stop_reason"] == "converged"


async def test_streaming_sends_progress_as_reasoning_then_the_answer_then_usage() -> None:
    async with serving(good_team()) as base_url:
        stream = await client(base_url).chat.completions.create(
            model="xolver", messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    reasoning = [d.model_extra.get("reasoning_content") for d in deltas if d.model_extra.get("reasoning_content")]
    answer_at = next(i for i, d in enumerate(deltas) if d.content)
    assert reasoning[0] == "team: Algebraist, Calculator, Checker\n" and len(reasoning) > 5
    assert all(not d.model_extra.get("reasoning_content") for d in deltas[answer_at:]), "the answer comes last"
    assert "".join(d.content or "" for d in deltas) == "10063"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


async def test_earlier_turns_and_instructions_are_the_context_of_the_last_user_message() -> None:
    model = good_team()
    messages = [
        {"role": "system", "content": "Answer with a number."},
        {"role": "user", "content": "What is 347 times 29?"},
        {"role": "assistant", "content": "10063"},
        {"role": "user", "content": [{"type": "text", "text": "And that minus 63?"}]},
    ]
    async with serving(model) as base_url:
        await client(base_url).chat.completions.create(model="xolver", messages=messages)
    prompt = next(r.prompt for r in model.requests if r.role == "solver")
    assert "Instructions:\nAnswer with a number." in prompt
    assert "Q: What is 347 times 29?\nA: 10063" in prompt and "New question: And that minus 63?" in prompt


async def test_request_options_change_that_request_only() -> None:
    model = good_team(score="0.5")  # never converges: every iteration runs
    async with serving(model, iterations=2, patience=5) as base_url:
        api = client(base_url)
        await api.chat.completions.create(
            model="xolver", messages=QUESTION, temperature=0.1, seed=7,
            extra_body={"xolver": {"agents": 2, "iterations": 1}},
        )  # fmt: skip
        tuned = [r for r in model.requests if r.role == "solver"]
        model.requests.clear()
        await api.chat.completions.create(model="xolver", messages=QUESTION)
        plain = [r for r in model.requests if r.role == "solver"]
    assert len(tuned) == 2 and {r.temperature for r in tuned} == {0.1}
    assert len(plain) == 3 * 2 and {r.temperature for r in plain} == {0.7}, "the defaults are back"


async def test_max_tokens_is_the_team_budget() -> None:
    model = good_team(score="0.5")
    async with serving(model, iterations=4, patience=5) as base_url:
        api = client(base_url)
        budgeted = await api.chat.completions.create(model="xolver", messages=QUESTION, max_tokens=50)
        free = await api.chat.completions.create(model="xolver", messages=QUESTION)
    team, unbounded = budgeted.model_extra["xolver"], free.model_extra["xolver"]
    assert (team["stop_reason"], team["iterations"]) == ("budget", 1) and unbounded["iterations"] == 4


async def test_memory_can_be_left_out_per_request_and_not_opened_by_one() -> None:
    store = InMemoryExperienceStore()
    async with Xolver(model=good_team(), store=store, **{**FAST, "memory": True}) as team:
        async with running(TeamServer(team)) as base_url:
            done = await client(base_url).chat.completions.create(
                model="xolver", messages=QUESTION, extra_body={"xolver": {"memory": False}}
            )
        assert done.choices[0].message.content == "10063"
    async with serving(good_team()) as base_url:  # a server without memory
        with pytest.raises(openai.BadRequestError) as refused:
            await client(base_url).chat.completions.create(
                model="xolver", messages=QUESTION, extra_body={"xolver": {"memory": True}}
            )
    assert refused.value.body["param"] == "xolver.memory"


BAD_REQUESTS = [
    ({"n": 2}, "n", "one answer per request"),
    ({"messages": [{"role": "system", "content": "Be brief."}]}, "messages", "no user message"),
    ({"messages": [*QUESTION, {"role": "assistant", "content": "100"}]}, "messages", "last message"),
    ({"messages": [{"role": "user", "content": "   "}]}, "messages.0.content", "non-empty"),
    ({"messages": []}, "messages", "at least 1"),
    ({"messages": [{"role": "tool", "content": "4"}]}, "messages.0.role", "Input should be"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages.0.content", "text only"),
    ({"temperature": "warm"}, "temperature", "valid number"),
    ({"temperature": 3}, "temperature", "less than or equal to 2"),
    ({"max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "client tools"),
    ({"response_format": {"type": "json_object"}}, "response_format", "text only"),
    ({"logprobs": True}, "logprobs", "log-probabilities"),
    ({"extra_body": {"xolver": {"agentz": 2}}}, "xolver.agentz", "Extra inputs"),
    ({"extra_body": {"xolver": {"agents": 0}}}, "xolver.agents", "greater than or equal to 1"),
    ({"extra_body": {"xolver": {"kind": "poetry"}}}, "xolver.kind", "'math', 'code' or 'general'"),
]  # fmt: skip


async def test_bad_requests_are_400_in_the_openai_shape_naming_the_field() -> None:
    model = good_team()
    async with serving(model) as base_url:
        api = client(base_url)
        for change, param, phrase in BAD_REQUESTS:
            with pytest.raises(openai.BadRequestError) as refused:
                await api.chat.completions.create(**{"model": "xolver", "messages": QUESTION, **change})
            error = refused.value.body
            assert (error["param"], error["type"]) == (param, "invalid_request_error"), change
            assert phrase in error["message"], (change, error["message"])
        async with httpx.AsyncClient(base_url=base_url) as raw:
            broken = await raw.post("/chat/completions", content=b'{"model": "xolver", "messages": [',
                                    headers={"content-type": "application/json"})  # fmt: skip
    assert broken.status_code == 400 and broken.json()["error"]["message"] == "the body is not valid JSON"
    assert model.requests == [], "nothing bad reached the team"


async def test_unknown_models_and_routes_are_404_and_other_methods_405() -> None:
    async with serving(good_team()) as base_url:
        api = client(base_url)
        with pytest.raises(openai.NotFoundError) as unknown:
            await api.chat.completions.create(model="gpt-4o", messages=QUESTION)
        assert unknown.value.body["code"] == "model_not_found" and unknown.value.body["param"] == "model"
        with pytest.raises(openai.NotFoundError):
            await api.models.retrieve("gpt-4o")
        async with httpx.AsyncClient(base_url=base_url) as raw:
            route, method = await raw.post("/completions", json={}), await raw.delete("/models")
    assert route.status_code == 404 and route.json()["error"]["message"] == "no route POST /v1/completions"
    assert method.status_code == 405 and set(method.json()["error"]) == {"message", "type", "param", "code"}


async def test_an_api_key_when_configured_is_required_everywhere() -> None:
    async with serving(good_team(), api_key="s3cret") as base_url:
        with pytest.raises(openai.AuthenticationError) as refused:
            await client(base_url, "wrong").models.list()
        assert refused.value.body["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            await client(base_url, "s3cret-and-more").chat.completions.create(model="xolver", messages=QUESTION)
        async with httpx.AsyncClient(base_url=base_url) as raw:
            for headers in ({}, {"authorization": "s3cret"}, {"authorization": "Basic s3cret"}):
                missing = await raw.post("/chat/completions", json={"model": "xolver", "messages": QUESTION},
                                         headers=headers)  # fmt: skip
                assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
        done = await client(base_url, "s3cret").chat.completions.create(model="xolver", messages=QUESTION)
    assert done.choices[0].message.content == "10063"


def unreachable(request: ModelRequest) -> str:
    raise ModelUnreachable("connection refused", model="scripted")


async def test_an_unreachable_model_is_503_and_a_crash_500_also_mid_stream() -> None:
    async with serving(ScriptedModel(unreachable)) as base_url:
        api = client(base_url)
        with pytest.raises(openai.InternalServerError) as down:
            await api.chat.completions.create(model="xolver", messages=QUESTION)
        assert down.value.status_code == 503 and down.value.body["code"] == "model_unavailable"
        stream = await api.chat.completions.create(model="xolver", messages=QUESTION, stream=True)
        with pytest.raises(openai.APIError, match="the team's model is unavailable"):
            async for _ in stream:
                pass

    def crash(request: ModelRequest) -> str:
        raise KeyError("a bug of ours")

    async with serving(scripted_team(planner=planner_reply, solver=crash, judge="Score: 1")) as base_url:
        with pytest.raises(openai.InternalServerError) as failed:
            await client(base_url).chat.completions.create(model="xolver", messages=QUESTION)
    assert failed.value.status_code == 500 and failed.value.body["type"] == "server_error"


class SlowTeam:
    """A scripted team whose every call takes `delay` seconds; it counts calls started, finished and cancelled."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = self.finished = self.cancelled = 0
        self.in_flight = self.peak = 0
        self.model = ScriptedModel(self.reply)
        self.team = good_team(score="0.5")  # never converges: a whole solve runs every iteration

    async def reply(self, request: ModelRequest) -> str:
        self.started += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        self.finished += 1
        return await self.team.complete(request)


async def settle(slow: SlowTeam, seconds: float) -> int:
    """Calls started after `seconds` more, once the calls in flight have ended."""
    before = slow.started
    await asyncio.sleep(seconds)
    assert slow.in_flight == 0
    return slow.started - before


@pytest.mark.parametrize("stream", [False, True])
async def test_a_client_that_disconnects_cancels_its_solve_and_its_model_calls(stream: bool) -> None:
    slow = SlowTeam(delay=0.2)
    async with serving(slow.model, iterations=3, patience=5) as base_url:
        full_started = time.perf_counter()
        await client(base_url).chat.completions.create(model="xolver", messages=QUESTION)
        full, full_seconds = slow.started, time.perf_counter() - full_started  # the control: a whole solve
        slow.started = slow.finished = 0
        body = {"model": "xolver", "messages": QUESTION, "stream": stream}
        async with httpx.AsyncClient(base_url=base_url, timeout=None) as raw:
            if stream:
                async with raw.stream("POST", "/chat/completions", json=body) as response:
                    async for line in response.aiter_lines():
                        if "is working" in line:
                            break  # leaving the block drops the connection mid-stream
            else:
                with pytest.raises(httpx.ReadTimeout):
                    await raw.post("/chat/completions", json=body, timeout=0.5)
        assert slow.in_flight > 0 or slow.cancelled > 0
        assert await settle(slow, full_seconds) == 0, "no call starts after the client left"
    assert slow.cancelled > 0, "the calls in flight were cancelled, not waited for"
    assert slow.started < full / 2


async def test_32_concurrent_requests_complete_on_one_team_within_its_limits() -> None:
    slow = SlowTeam(delay=0.01)
    async with serving(slow.model, max_concurrency=8) as base_url:
        api = client(base_url)

        async def ask(index: int) -> str:
            if index % 2:
                stream = await api.chat.completions.create(model="xolver", messages=QUESTION, stream=True)
                return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            done = await api.chat.completions.create(model="xolver", messages=QUESTION)
            return done.choices[0].message.content or ""

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(ask(i)) for i in range(32)]
    assert [task.result() for task in tasks] == ["10063"] * 32
    assert slow.peak == 8, "the team's model-call limit holds over all requests, and they did overlap"


async def test_replies_do_not_wait_for_delayed_acks() -> None:
    """A listening socket asyncio does not know as TCP gets no TCP_NODELAY: each reply then took ~44 ms here."""
    async with serving(good_team()) as base_url, httpx.AsyncClient(base_url=base_url) as raw:
        await raw.get("/models")
        seconds = []
        for _ in range(20):
            started = time.perf_counter()
            await raw.get("/models")
            seconds.append(time.perf_counter() - started)
    assert sorted(seconds)[10] < 0.02, f"median {sorted(seconds)[10] * 1000:.1f} ms"


def test_a_port_in_use_is_a_one_line_error() -> None:
    from xolver.errors import UserInputError
    from xolver.server import bind

    with bind("127.0.0.1", 0) as taken, pytest.raises(UserInputError, match=r"cannot listen on 127\.0\.0\.1"):
        bind("127.0.0.1", taken.getsockname()[1])
