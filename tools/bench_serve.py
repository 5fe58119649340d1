"""What `xolver serve-team` adds to a solve: the server's own overhead per request, measured side by side.

One team on a scripted model with zero latency (the fake server's replies, no network), so a solve costs
only the framework's CPU. The same problem is solved, round after round, interleaved: directly with
`team.asolve`, and through the server (in this event loop, on loopback) as a plain completion, a stream,
a completion with per-request options (the team reconfigured for it), and through the openai SDK. Then
32 concurrent requests, against `asolve_many` with the same concurrency. Prints the median per request,
the overhead over the direct solve, and the ratio. The client runs in the same process, so its cost
(HTTP, JSON, SSE parsing) is included: the numbers are an upper bound on the server's own.

    python tools/bench_serve.py [--requests 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openai

from xolver import ScriptedModel, Xolver
from xolver.server import TeamServer, running

sys.path.insert(0, str(Path(__file__).parent))
from fake_server import reply_for

QUESTION = "What is 347 times 29?"
BODY = {"model": "xolver", "messages": [{"role": "user", "content": QUESTION}]}


async def timed(requests: int, one: Callable[[], Awaitable[str]]) -> float:
    """Seconds per request over `requests` sequential requests; each must answer 10063."""
    started = time.perf_counter()
    for _ in range(requests):
        answer = await one()
        assert answer == "10063", answer
    return (time.perf_counter() - started) / requests


async def main(args: argparse.Namespace) -> None:
    model = ScriptedModel(lambda request: reply_for(request.prompt))
    settings = {"memory": False, "sandbox": "none", "recall": False, "agents": 3, "iterations": 2, "retries": 0}
    async with (
        Xolver(model=model, **settings) as team,
        running(TeamServer(team)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0) as sdk,
    ):

        async def direct() -> str:
            return (await team.asolve(QUESTION)).answer or ""

        async def plain() -> str:
            return (await http.post("/chat/completions", json=BODY)).json()["choices"][0]["message"]["content"]

        async def with_options() -> str:
            body = {**BODY, "max_tokens": 100000, "xolver": {"agents": 3, "iterations": 2}}
            return (await http.post("/chat/completions", json=body)).json()["choices"][0]["message"]["content"]

        async def streamed() -> str:
            content = []
            async with http.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {") and '"content":"' in line:
                        content.append(line.split('"content":"', 1)[1].split('"', 1)[0])
            return "".join(content)

        async def openai_sdk() -> str:
            done = await sdk.chat.completions.create(model="xolver", messages=BODY["messages"])
            return done.choices[0].message.content or ""

        modes = {"direct team.asolve": direct, "server, plain": plain, "server, stream": streamed,
                 "server, with options": with_options, "server, openai SDK": openai_sdk}  # fmt: skip
        calls_before = len(model.requests)
        await direct()
        calls = len(model.requests) - calls_before
        for one in modes.values():  # warm up every path once
            await timed(3, one)
        samples: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.rounds):
            for name, one in modes.items():
                samples[name].append(await timed(args.requests, one))

        base = statistics.median(samples["direct team.asolve"])
        print(f"one solve = {calls} scripted model calls (m=3, I=2); {args.requests} sequential requests x "
              f"{args.rounds} rounds, interleaved; median of the rounds\n")  # fmt: skip
        print(f"{'path':<24} {'ms/request':>11} {'overhead ms':>12} {'ratio':>7}   rounds (ms)")
        for name, values in samples.items():
            median = statistics.median(values)
            rounds = " ".join(f"{v * 1000:.2f}" for v in values)
            print(f"{name:<24} {median * 1000:>11.2f} {(median - base) * 1000:>12.2f} {median / base:>7.2f}   {rounds}")

        concurrent: dict[str, list[float]] = {"direct asolve_many": [], "server, 32 at once": []}
        for _ in range(args.rounds):
            started = time.perf_counter()
            await team.asolve_many([QUESTION] * 32, concurrency=32)
            concurrent["direct asolve_many"].append(time.perf_counter() - started)
            started = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for _ in range(32):
                    group.create_task(plain())
            concurrent["server, 32 at once"].append(time.perf_counter() - started)
        direct_32 = statistics.median(concurrent["direct asolve_many"])
        print("\n32 concurrent solves")
        for name, values in concurrent.items():
            median = statistics.median(values)
            print(f"{name:<24} {median * 1000:>9.1f} ms  {32 / median:>7.1f} solves/s  ratio {median / direct_32:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="sequential requests per path and round")
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
