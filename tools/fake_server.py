"""An OpenAI-compatible chat-completions server on 127.0.0.1 that emulates a continuous-batching GPU
server, for load tests of Xolver without a GPU.

Each request waits for one of `--max-seqs` sequence slots (requests beyond it queue), then takes
`--ttft` seconds plus its output tokens / `--rate` (tokens per second per sequence). Output tokens are
the request's `max_tokens`, capped by `--output-tokens`. Replies are valid for every Xolver agent (a
roles list for the planner, `\\boxed{}` reasoning for solvers, a python block for coders, `Score: 1`
for the judge). Every request's arrival, start and end go to `--log` as JSON lines. Faults can be
injected: a share of 429s, 500s, timeouts (the reply never comes in time), garbled and empty replies.

Two kinds of limit a real server has, for the adaptive concurrency limit to find: `--rate-limit N` admits N
requests per `--rate-window` seconds and answers the rest 429, with `Retry-After` (whole seconds) and
`retry-after-ms` unless `--no-retry-after`; `--knee K` makes latency grow with load as in continuous
batching: past K sequences in flight each decodes proportionally slower, so completed tokens per second
stop rising at K while the server still accepts up to `--max-seqs`.

With `--simulate SKILL --problems FILE` it answers as a simulated model of that skill on that problem set
(`xolver.team.simulated`: `p=0.6,judge=adversarial`, ...): right answers with probability p, plausible wrong
ones else, a judge of the given kind.

It can behave like a reasoning model (`--reasoning`): it thinks `--thinking-tokens` tokens before each
answer, in `reasoning_content` (a server with a reasoning parser: `field`), inline as `<think>...</think>`
(`inline`), or inline without the opening tag, as R1 distills write it (`inline-open-missing`). The thinking
is full of decoys (a boxed answer, a score, a verdict, a code block) that must never be read as the answer.
A request whose `max_tokens` (or `max_completion_tokens`) is below the thinking plus the answer is cut:
`finish_reason: "length"`, with no answer. `--o-series` answers 400 to a request that sets `temperature`.

    python tools/fake_server.py --port 8999 --ttft 0.02 --rate 500 --max-seqs 64 --log /tmp/fake.jsonl
    python tools/fake_server.py --reasoning inline --thinking-tokens 3000 --rate 5000
    python tools/fake_server.py --rate-limit 40 --no-retry-after
    python tools/fake_server.py --max-seqs 256 --knee 32
    python tools/fake_server.py --simulate p=1 --problems tests/data/heldout.jsonl --reasoning inline-open-missing
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
    ("Applies when", "Strategy: split one factor into a round number and a correction.\nApplies when: a product."),
    ("What final answer", "\\boxed{10063}"),
    ("solves this problem on its own", "```python\nfactor, other = 347, 29\nprint(factor * other)\n```"),
    ("NEW tests", '{"input": "4 5", "output": "9"}\n{"input": "0", "output": "0"}'),
    ("Solve the problem in Python", CODER),
]
DECOYS = "Maybe \\boxed{31337}? Score: 0. VERDICT: WRONG. ```python\nprint(31337)\n``` No, let me think again. "


def reply_for(prompt: str, judge_score: float = 1.0) -> str:
    text = next((text for phrase, text in REPLIES if phrase in prompt), SOLVER)
    return text.replace("{judge_score}", f"{judge_score:g}")


class Batch:
    """Continuous batching as processor sharing: with n sequences in flight each runs at 1 / max(1, n / knee)
    of full speed, so the server's completed work per second stops rising at `knee` sequences."""

    def __init__(self, knee: int) -> None:
        self.knee = knee
        self.done = 0.0  # work each sequence in flight has had since the start, in seconds at full speed
        self.stamp = time.monotonic()
        self.running: dict[asyncio.Future[None], float] = {}  # sequence -> `done` at which it finishes
        self.timer: asyncio.TimerHandle | None = None

    def _speed(self) -> float:
        return 1 / max(1.0, len(self.running) / self.knee)

    def _advance(self) -> None:
        now = time.monotonic()
        self.done += (now - self.stamp) * self._speed()
        self.stamp = now

    async def run(self, work: float) -> None:
        self._advance()
        finished = asyncio.get_running_loop().create_future()
        self.running[finished] = self.done + work
        self._schedule()
        try:
            await finished
        finally:
            if self.running.pop(finished, None) is not None:  # cancelled: the others speed up
                self._advance()
                self._schedule()

    def _schedule(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.running:
            delay = (min(self.running.values()) - self.done) / self._speed()
            self.timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._tick)

    def _tick(self) -> None:
        self._advance()
        for sequence, end in list(self.running.items()):
            if end <= self.done + 1e-6:
                del self.running[sequence]
                sequence.set_result(None)
        self._schedule()


class FakeServer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.slots = asyncio.Semaphore(args.max_seqs)
        self.random = random.Random(args.seed)
        self.log = Path(args.log).open("a", buffering=1) if args.log else None  # noqa: SIM115 - open while serving
        self.batch = Batch(args.knee) if args.knee else None
        self.simulated = simulated(args.simulate, args.problems) if args.simulate else None
        self.window_start = time.monotonic()
        self.window_admitted = 0

    def _over_rate_limit(self) -> web.Response | None:
        """A 429 when this window's requests are spent (fixed windows of `--rate-window` seconds)."""
        if self.args.rate_limit is None:
            return None
        now = time.monotonic()
        if now - self.window_start >= self.args.rate_window:
            self.window_start += (now - self.window_start) // self.args.rate_window * self.args.rate_window
            self.window_admitted = 0
        if self.window_admitted < self.args.rate_limit:
            self.window_admitted += 1
            return None
        wait = self.window_start + self.args.rate_window - now
        headers = {} if self.args.no_retry_after else {
            "Retry-After": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000)),
        }  # fmt: skip
        error = {"message": "rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}
        return web.json_response({"error": error}, status=429, headers=headers)

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
        limited = self._over_rate_limit()
        if limited is not None:
            return limited
        fault = self._fault()
        if fault == "429":
            return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}}, status=429)
        if fault == "500":
            return web.json_response({"error": {"message": "injected failure"}}, status=500)
        if self.args.o_series and "temperature" in body:
            message = "Unsupported parameter: 'temperature' is not supported with this model."
            return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=400)
        limit = int(body.get("max_completion_tokens") or body.get("max_tokens") or self.args.output_tokens)
        answer = "" if fault == "empty" else self._answer(body, prompt)
        thinking = self.args.thinking_tokens if self.args.reasoning != "none" else 0
        reply_tokens = min(limit, self.args.output_tokens)
        cut = thinking > 0 and limit < thinking + len(answer) // 4 + 1
        tokens = min(limit, thinking + reply_tokens)
        async with self.slots:
            started = time.time()
            service = (self.args.ttft + tokens / self.args.rate) * (20 if fault == "timeout" else 1)
            await (self.batch.run(service) if self.batch else asyncio.sleep(service))
        ended = time.time()
        if self.log:
            record = {"arrived": arrived, "started": started, "ended": ended, "service": service, "tokens": tokens,
                      "fault": fault, "problem": prompt.split("Problem:", 1)[-1][:80].strip()}  # fmt: skip
            self.log.write(json.dumps(record) + "\n")
        if fault == "garbled":
            return web.Response(text='{"id": "x", "choices": [', content_type="application/json")
        message = self._message(answer, thinking_tokens=min(thinking, limit), cut=cut)
        return web.json_response(
            {
                "id": f"chatcmpl-{int(started * 1e6)}",
                "object": "chat.completion",
                "created": int(started),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": "length" if cut else "stop"}],
                "usage": {
                    "prompt_tokens": len(prompt) // 4,
                    "completion_tokens": tokens,
                    "total_tokens": len(prompt) // 4 + tokens,
                    "completion_tokens_details": {"reasoning_tokens": min(thinking, limit)},
                },
            }
        )

    def _answer(self, body: dict[str, Any], prompt: str) -> str:
        if self.simulated is None:
            return reply_for(prompt, self.args.judge_score)
        from xolver.llm.base import Message

        messages = [Message(role=m.get("role", "user"), content=str(m.get("content") or "")) for m in body["messages"]]
        return self.simulated.answer(messages, body.get("seed"))

    def _message(self, answer: str, *, thinking_tokens: int, cut: bool) -> dict[str, Any]:
        """The assistant message: the answer, after thinking of about `thinking_tokens` tokens (4 characters
        each) where the mode says; a cut reply ends inside its thinking."""
        mode = self.args.reasoning
        if mode == "none":
            return {"role": "assistant", "content": answer}
        thought = (DECOYS * (thinking_tokens * 4 // len(DECOYS) + 1))[: thinking_tokens * 4]
        if mode == "field":
            return {"role": "assistant", "content": "" if cut else answer, "reasoning_content": thought}
        opening = "" if mode == "inline-open-missing" else "<think>"
        content = f"{opening}{thought}" if cut else f"{opening}{thought}</think>\n{answer}"
        return {"role": "assistant", "content": content}

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})


def simulated(skill: str, problems: str | None) -> Any:
    """The simulated model a `--simulate` server answers as."""
    from xolver.bench.datasets import load_problems
    from xolver.team.simulated import SimulatedModel, Skill

    if problems is None:
        raise SystemExit("--simulate needs --problems FILE: the set whose answers the model knows")
    return SimulatedModel(load_problems(problems)[0], Skill.parse(skill))


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
    parser.add_argument("--reasoning", choices=["none", "field", "inline", "inline-open-missing"], default="none",
                        help="think before answering: in reasoning_content, or inline in <think> tags")  # fmt: skip
    parser.add_argument("--thinking-tokens", type=int, default=2000, help="tokens of thinking before each answer")
    parser.add_argument("--rate-limit", type=int, help="requests admitted per window; the rest get 429")
    parser.add_argument("--rate-window", type=float, default=1.0, help="seconds per rate-limit window")
    parser.add_argument("--no-retry-after", action="store_true", help="429s without Retry-After headers")
    parser.add_argument("--knee", type=int,
                        help="past this many sequences in flight, each decodes proportionally slower")
    parser.add_argument("--o-series", action="store_true", help="refuse `temperature` (400), as o-series models do")
    parser.add_argument("--simulate", help="answer as a simulated model of this skill, e.g. p=0.6,judge=adversarial")
    parser.add_argument("--problems", help="the problem set (JSONL) a simulated model knows")
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
