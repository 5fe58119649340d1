"""litellm's real request path against a loopback stub: replies, usage, and every failure mapped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from stub_server import completion, stub_server, team_handler

from xolver import Xolver
from xolver.config import load_config
from xolver.errors import (
    ModelRateLimited,
    ModelRequestRejected,
    ModelServerError,
    ModelTimeout,
    ModelUnreachable,
)
from xolver.llm import LiteLLMModel, Message, ModelClient
from xolver.llm.base import ModelRequest
from xolver.llm.usage import usage_scope

pytestmark = pytest.mark.real_model
REQUEST = ModelRequest(role="solver", messages=[Message(role="user", content="hi")], max_tokens=20)


async def test_a_reply_and_its_usage_come_back() -> None:
    with stub_server(lambda body: (200, completion("hello there", 5, 2))) as api_base:
        response = await LiteLLMModel("openai/stub", api_base=api_base).complete(REQUEST)
    assert response.text == "hello there"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (5, 2)


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, ModelServerError), (503, ModelServerError), (429, ModelRateLimited), (400, ModelRequestRejected)],
)
async def test_http_failures_map_onto_the_error_tree(status: int, error: type[Exception]) -> None:
    failing = stub_server(lambda body: (status, {"error": {"message": "scripted failure"}}))
    with failing as api_base, pytest.raises(error):
        await LiteLLMModel("openai/stub", api_base=api_base).complete(REQUEST)


async def test_a_garbled_body_is_a_retryable_server_error() -> None:
    garbled = stub_server(lambda body: (200, b"{not json at all"))
    with garbled as api_base, pytest.raises(ModelServerError) as caught:
        await LiteLLMModel("openai/stub", api_base=api_base).complete(REQUEST)
    assert caught.value.retryable


async def test_an_empty_reply_is_an_empty_text_not_an_error() -> None:
    with stub_server(lambda body: (200, completion(""))) as api_base:
        response = await LiteLLMModel("openai/stub", api_base=api_base).complete(REQUEST)
    assert response.text == ""


async def test_a_dead_server_is_unreachable() -> None:
    with pytest.raises(ModelUnreachable):
        await LiteLLMModel("openai/stub", api_base="http://127.0.0.1:9/v1").complete(REQUEST)


async def test_a_slow_server_times_out_and_is_retried() -> None:
    calls = 0

    def slow_then_fast(body: dict) -> tuple[int, dict]:
        nonlocal calls
        calls += 1
        if calls == 1:
            time.sleep(1.0)
        return 200, completion("made it")

    with stub_server(slow_then_fast) as api_base:
        model = LiteLLMModel("openai/stub", api_base=api_base)
        client = ModelClient(model, timeout=0.3, retries=2, retry_base_delay=0.0)
        response = await client.complete("solver", REQUEST.messages)
    assert response.text == "made it" and calls == 2


async def test_translate_error_knows_litellm_exception_types() -> None:
    from xolver.llm.litellm_model import import_litellm, translate_error

    litellm = import_litellm()
    timeout = litellm.Timeout(message="t", model="m", llm_provider="openai")
    assert isinstance(translate_error(timeout, "m"), ModelTimeout)


async def test_a_whole_solve_through_litellm() -> None:
    with stub_server(team_handler) as api_base:
        xolver = Xolver(model="openai/stub", api_base=api_base, agents=2, iterations=2, exemplars=0, sandbox="process")
        result = await xolver.asolve("What is 347 times 29?")
    assert result.answer == "10063" and result.verified and result.verification.method == "tools"
    assert [r.name for r in result.roles] == ["Algebraist", "Calculator"]
    # plan, select, 2 solvers, 2 judges, and the verifier's independent program; the stub counts 11 and 7 tokens a call
    assert result.usage.calls == 7 and result.usage.prompt_tokens == 77 and result.usage.completion_tokens == 49
    assert result.config.models["solver"] == "openai/stub" and result.config.settings.api_base == api_base


async def test_replicas_behind_the_router_share_the_requests(tmp_path: Path) -> None:
    hits = {"a": 0, "b": 0}

    def replica(name: str):
        def handle(body: dict) -> tuple[int, dict]:
            hits[name] += 1
            return 200, completion(f"from {name}")

        return handle

    with stub_server(replica("a")) as base_a, stub_server(replica("b")) as base_b:
        toml = tmp_path / "xolver.toml"
        toml.write_text('model = "replicas"\n' + "".join(
            f'[[endpoints]]\nmodel = "openai/stub"\napi_base = "{base}"\n' for base in (base_a, base_b)
        ))  # fmt: skip
        config = load_config(toml)
        client = ModelClient.from_config(config)
        replies = [await client.complete("solver", REQUEST.messages, max_tokens=5) for _ in range(30)]
    assert {r.text for r in replies} == {"from a", "from b"} and hits["a"] + hits["b"] == 30
    assert min(hits.values()) >= 5, hits
    assert client.model_name("solver") == "replicas"
    assert [e.api_base for e in config.run_config(client.model_names()).settings.endpoints] == [base_a, base_b]


async def test_a_dead_replica_costs_no_failed_call() -> None:
    with stub_server(lambda body: (200, completion("alive"))) as alive:
        config = load_config(model="replicas", retries=0, endpoints=[
            {"model": "openai/stub", "api_base": "http://127.0.0.1:9/v1"}, {"model": "openai/stub", "api_base": alive},
        ])  # fmt: skip
        client = ModelClient.from_config(config)
        with usage_scope() as usage:
            replies = [await client.complete("solver", REQUEST.messages, max_tokens=5) for _ in range(10)]
    assert [r.text for r in replies] == ["alive"] * 10
    assert usage.failed_calls == 0 and usage.calls == 10, "the router's fail-over is not a failed call of ours"
