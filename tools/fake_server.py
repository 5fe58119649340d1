"""An OpenAI-compatible chat-completions server on 127.0.0.1 that emulates a continuous-batching GPU
server, for load tests of Xolver without a GPU.

Each request waits for one of `--max-seqs` sequence slots (requests beyond it queue), then takes
`--ttft` seconds plus its output tokens / `--rate` (tokens per second per sequence). Output tokens are
the request's `max_tokens`, capped by `--output-tokens`. Replies are valid for every Xolver agent (a
roles list for the planner, `\\boxed{}` reasoning for solvers, a python block for coders, `Score: 1`
for the judge). Every request's arrival, start and end go to `--log` as JSON lines. Faults can be
injected: a share of 429s, 500s, timeouts (the reply never comes in time), garbled and empty replies.

    python tools/fake_server.py --port 8999 --ttft 0.02 --rate 500 --max-seqs 64 --log /tmp/fake.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

SOLVER = "Multiply step by step: 347 * 29 = 347 * 30 - 347 = 10410 - 347 = 10063.\nSo the answer is \\boxed{10063}."
CODER = "Read the numbers and add them.\n```python\nprint(sum(map(int, input().split())))\n```"
REPLIES = [  # (a phrase of the agent's prompt, the reply), first match wins
    ("Proposed solution", "Assessment: the computation is right.\nScore: {judge_score}"),
    ("Propose", "Algebraist: equations\nCalculator: careful arithmetic\nChecker: checks each step\nSkeptic: doubts"),
    ("Candidate roles", "1, 2, 3"),
    ("Recall a different problem", "Similar problem: What is 12 times 7?\nSolution: 12 * 7 = 84, \\boxed{84}."),
    ("key idea", "Split one factor into a round number and a correction."),
    ("What final answer", "\\boxed{10063}"),
    ("Solve the problem in Python", CODER),
]


def reply_for(prompt: str, judge_score: float = 1.0) -> str:
    text = next((text for phrase, text in REPLIES if phrase in prompt), SOLVER)
    return text.replace("{judge_score}", f"{judge_score:g}")


class FakeServer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.slots = asyncio.Semaphore(args.max_seqs)
        self.random = random.Random(args.seed)
        self.log = Path(args.log).open("a", buffering=1) if args.log else None  # noqa: SIM115 - open while serving

    def _fault(self) -> str | None:
        roll = self.random.random()
        for name in ("429", "500", "timeout", "garbled", "empty"):
            share = getattr(self.args, f"fault_{name}")
            if roll < share:
                return name
            roll -= share
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        body: dict[str, Any] = await request.json()
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        fault = self._fault()
        if fault == "429":
            return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}}, status=429)
        if fault == "500":
            return web.json_response({"error": {"message": "injected failure"}}, status=500)
        tokens = min(int(body.get("max_tokens") or self.args.output_tokens), self.args.output_tokens)
        async with self.slots:
            started = time.time()
            service = self.args.ttft + tokens / self.args.rate
            await asyncio.sleep(service * (20 if fault == "timeout" else 1))
        ended = time.time()
        if self.log:
            record = {"arrived": arrived, "started": started, "ended": ended, "service": service, "tokens": tokens,
                      "fault": fault, "problem": prompt.split("Problem:", 1)[-1][:80].strip()}  # fmt: skip
            self.log.write(json.dumps(record) + "\n")
        if fault == "garbled":
            return web.Response(text='{"id": "x", "choices": [', content_type="application/json")
        text = "" if fault == "empty" else reply_for(prompt, self.args.judge_score)
        return web.json_response(
            {
                "id": f"chatcmpl-{int(started * 1e6)}",
                "object": "chat.completion",
                "created": int(started),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": len(prompt) // 4,
                    "completion_tokens": tokens,
                    "total_tokens": len(prompt) // 4 + tokens,
                },
            }
        )

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})


def spawn(flags: list[str]) -> tuple[subprocess.Popen, str]:
    """This server in a process of its own on a free port, once it answers; returns it and its api_base."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, __file__, "--port", str(port), *flags]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api_base = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            httpx.get(f"{api_base}/models", timeout=0.5)
            return process, api_base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the fake server did not start")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--ttft", type=float, default=0.05, help="seconds to the first token")
    parser.add_argument("--rate", type=float, default=200.0, help="output tokens per second per sequence")
    parser.add_argument("--max-seqs", type=int, default=64, help="sequences in flight; more requests queue")
    parser.add_argument("--output-tokens", type=int, default=128, help="cap on output tokens per reply")
    parser.add_argument("--log", help="append one JSON line per request here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-score", type=float, default=1.0, help="below 1 the team never converges early")
    for name in ("429", "500", "timeout", "garbled", "empty"):
        parser.add_argument(f"--fault-{name}", type=float, default=0.0, help=f"share of requests answered with {name}")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    server = FakeServer(args)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.chat)
    app.router.add_post("/chat/completions", server.chat)
    app.router.add_get("/v1/models", server.models)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
