"""`xolver serve-team` as a user starts it, backed by the fake model server (tools/fake_server.py), with the
official openai SDK (sync, async, streaming) and litellm as clients. The fake server logs every model call,
so usage and cancellation are checked against what the backing model really served."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
from fake_server import spawn

pytestmark = pytest.mark.slow
KEY = "team-key"
QUESTION = [{"role": "user", "content": "What is 347 times 29?"}]
TOKENS_PER_REPLY = 40  # the fake server's --output-tokens


@dataclass
class Served:
    base_url: str
    banner: str
    log: Path

    def calls(self, since: float, until: float = float("inf")) -> list[dict]:
        """The model calls that reached the fake server in [since, until)."""
        records = [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []
        return [r for r in records if since <= r["arrived"] < until]


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        raise AssertionError(f"xolver serve-team printed nothing in {timeout}s")
    return process.stdout.readline()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("fake") / "requests.jsonl"
    fake, fake_base = spawn(["--ttft", "0.2", "--rate", "400", "--output-tokens", str(TOKENS_PER_REPLY),
                             "--log", str(log)])  # fmt: skip
    env = {name: value for name, value in os.environ.items() if not name.startswith("XOLVER_")}
    env |= {"XOLVER_CONFIG_FILE": str(log.parent / "absent.toml"), "XOLVER_RECALL": "false",
            "XOLVER_SERVE_API_KEY": KEY}  # fmt: skip
    command = [sys.executable, "-m", "xolver.cli", "serve-team", "--model", "openai/fake", "--api-base", fake_base,
               "--port", "0", "--no-memory", "--sandbox", "none", "-m", "3", "-I", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = first_line(process, timeout=90)
        found = re.search(r"at (http://\S+/v1)", banner)
        assert found, banner + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        yield Served(found.group(1), banner, log)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        fake.terminate()
        fake.wait()
    assert process.returncode == 0 and "stopped" in stderr, stderr[-2000:]


def test_it_binds_loopback_by_default_and_requires_the_key_from_the_environment(served: Served) -> None:
    assert served.base_url.startswith("http://127.0.0.1:") and "(API key required)" in served.banner
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.base_url, api_key="not-the-key", max_retries=0).models.list()


def test_the_sync_openai_client_gets_the_answer_and_the_teams_total_usage(served: Served) -> None:
    api = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    assert [m.id for m in api.models.list()] == ["xolver"]
    started = time.time()
    done = api.chat.completions.create(model="xolver", messages=QUESTION)
    calls = served.calls(started)
    assert done.choices[0].message.content == "10063"
    assert done.choices[0].message.model_extra["reasoning_content"].startswith("team: Algebraist, Calculator, Checker")
    assert done.model_extra["xolver"]["calls"] == len(calls) > 5
    assert done.usage is not None and done.usage.completion_tokens == sum(c["tokens"] for c in calls)


async def test_the_async_openai_client_with_team_options(served: Served) -> None:
    api = openai.AsyncOpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    started = time.time()
    done = await api.chat.completions.create(
        model="xolver", messages=QUESTION, extra_body={"xolver": {"agents": 2, "iterations": 1}}
    )
    solver_calls = [c for c in served.calls(started) if c["problem"].startswith("What is 347")]
    team = done.model_extra["xolver"]
    assert done.choices[0].message.content == "10063" and team["iterations"] == 1
    assert done.usage is not None and done.usage.completion_tokens == TOKENS_PER_REPLY * team["calls"]
    assert solver_calls, "the fake server saw the problem"


def test_streaming_with_the_openai_client_reasoning_then_answer_then_usage(served: Served) -> None:
    api = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    started = time.time()
    stream = api.chat.completions.create(
        model="xolver", messages=QUESTION, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    calls = served.calls(started)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(d.model_extra.get("reasoning_content") or "" for d in deltas)
    assert "is working" in reasoning and "judge on" in reasoning and reasoning.endswith("\n")
    assert "".join(d.content or "" for d in deltas) == "10063"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == sum(c["tokens"] for c in calls) > 0


def test_litellm_as_a_client_plain_and_streaming(served: Served) -> None:
    from xolver.llm.litellm_model import import_litellm

    litellm = import_litellm()
    ask = {"model": "openai/xolver", "api_base": served.base_url, "api_key": KEY, "messages": QUESTION}
    done = litellm.completion(**ask, extra_body={"xolver": {"agents": 2}})
    assert done.choices[0].message.content == "10063"
    assert done.choices[0].message.reasoning_content.startswith("team: Algebraist, Calculator\n")

    async def streamed() -> tuple[str, str]:
        stream = await litellm.acompletion(**ask, stream=True)
        content, reasoning = [], []
        async for chunk in stream:
            delta = chunk.choices[0].delta
            content.append(delta.content or "")
            reasoning.append(getattr(delta, "reasoning_content", None) or "")
        return "".join(content), "".join(reasoning)

    content, reasoning = asyncio.run(streamed())
    assert content == "10063" and "verified:" in reasoning


def test_a_client_that_disconnects_mid_stream_stops_the_teams_model_calls(served: Served) -> None:
    api = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    started = time.time()
    api.chat.completions.create(model="xolver", messages=QUESTION)
    whole = len(served.calls(started))  # the control: the calls of a whole solve
    time.sleep(0.5)
    started = time.time()
    stream = api.chat.completions.create(model="xolver", messages=QUESTION, stream=True)
    for chunk in stream:
        if chunk.choices and "is working" in (chunk.choices[0].delta.model_extra.get("reasoning_content") or ""):
            break
    stream.close()
    left = time.time()
    time.sleep(2.0)  # a whole solve takes about 1 s here
    calls = served.calls(started)
    assert [c for c in calls if c["arrived"] > left + 0.15] == [], "no model call starts after the client left"
    assert len(calls) < whole
    after = api.chat.completions.create(model="xolver", messages=QUESTION)  # and the server serves on
    assert after.choices[0].message.content == "10063"


async def test_32_concurrent_requests_complete(served: Served) -> None:
    api = openai.AsyncOpenAI(base_url=served.base_url, api_key=KEY, max_retries=0, timeout=120)

    async def ask(index: int) -> str:
        question = [{"role": "user", "content": f"What is 347 times 29? (asker {index})"}]
        if index % 2:
            stream = await api.chat.completions.create(model="xolver", messages=question, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        done = await api.chat.completions.create(model="xolver", messages=question)
        return done.choices[0].message.content or ""

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(ask(i)) for i in range(32)]
    print(f"\n32 concurrent requests through `xolver serve-team`: {time.perf_counter() - started:.1f}s")
    assert [task.result() for task in tasks] == ["10063"] * 32
