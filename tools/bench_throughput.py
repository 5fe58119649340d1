"""How close a Xolver run gets to the model server's own limit, measured against the fake server.

One run, side by side: N problems through `solve_many` (m agents, I iterations); the strictly sequential
schedule (one call at a time, one problem at a time) on the same kind of calls; bare `litellm.acompletion`
calls for the CPU baseline; and a run with injected faults. Prints wall time, the server-bound ideal
(from the server's log: total service time over its sequence cap, or one problem's chain of dependent
calls if that is longer), wall/ideal, the speed-up over the sequential schedule, model calls per second,
and framework CPU per model call beside bare litellm's.

    python tools/bench_throughput.py [--problems 32] [--agents 3] [--iterations 2] [--max-seqs 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from xolver import Xolver
from xolver.llm.litellm_model import import_litellm
from xolver.team.judge import JUDGE_MAX_TOKENS
from xolver.team.planner import PLANNER_MAX_TOKENS

sys.path.insert(0, str(Path(__file__).parent))
from fake_server import spawn


class Server:
    """tools/fake_server.py in its own process, so its CPU is not counted as the framework's."""

    def __init__(self, args: argparse.Namespace, log: Path, faults: float = 0.0) -> None:
        self.log = log
        share = str(faults / 5)
        self.process, self.api_base = spawn([
            "--ttft", str(args.ttft), "--rate", str(args.rate), "--max-seqs", str(args.max_seqs),
            "--output-tokens", str(args.output_tokens), "--log", str(log), "--judge-score", "0.9",
            "--fault-429", share, "--fault-500", share, "--fault-timeout", share, "--fault-garbled", share,
            "--fault-empty", share,
        ])  # fmt: skip

    def records(self, since: float) -> list[dict]:
        return [r for r in map(json.loads, self.log.read_text().splitlines()) if r["arrived"] >= since]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def problems(n: int) -> list[str]:
    return [f"Problem {i}: what is {100 + i} times {20 + i}?" for i in range(n)]


def team(args: argparse.Namespace, api_base: str, *, max_concurrency: int) -> Xolver:
    return Xolver(
        model="openai/fake", api_base=api_base, agents=args.agents, iterations=args.iterations, exemplars=0,
        memory=False, sandbox="none", recall=False, max_concurrency=max_concurrency, timeout=args.call_timeout,
        retries=4, retry_delay=0.05, max_tokens=args.solver_tokens,
    )  # fmt: skip


def service(args: argparse.Namespace, max_tokens: int) -> float:
    return args.ttft + min(max_tokens, args.output_tokens) / args.rate


def zero_overhead_makespan(args: argparse.Namespace) -> float:
    """The same calls scheduled on the same server by a framework that costs nothing: each call is sent
    the instant its dependencies finish, and the server runs up to `max_seqs` at once, first come first
    served. Per problem: plan, select, then per iteration m solver calls, each judged when it finishes,
    the next iteration starting when all m judgements are in."""
    import heapq

    plan, select = service(args, PLANNER_MAX_TOKENS), service(args, 40)
    solve, judge = service(args, args.solver_tokens), service(args, JUDGE_MAX_TOKENS)
    ready: list[tuple[float, int, tuple]] = []  # (ready time, sequence, (problem, step, agent))
    order = 0

    def push(at: float, item: tuple) -> None:
        nonlocal order
        heapq.heappush(ready, (at, order, item))
        order += 1

    for problem in range(args.problems):
        push(0.0, (problem, "plan", 0, 0))
    slots = [0.0] * args.max_seqs  # when each sequence slot is next free
    judged: dict[tuple[int, int], int] = {}
    end = 0.0
    while ready:
        at, _, (problem, step, iteration, agent) = heapq.heappop(ready)
        slot = min(range(len(slots)), key=slots.__getitem__)
        start = max(at, slots[slot])
        duration = {"plan": plan, "select": select, "solve": solve, "judge": judge}[step]
        finish = slots[slot] = start + duration
        end = max(end, finish)
        if step == "plan":
            push(finish, (problem, "select", 0, 0))
        elif step == "select":
            for a in range(args.agents):
                push(finish, (problem, "solve", 0, a))
        elif step == "solve":
            push(finish, (problem, "judge", iteration, agent))
        else:
            judged[problem, iteration] = judged.get((problem, iteration), 0) + 1
            if judged[problem, iteration] == args.agents and iteration + 1 < args.iterations:
                for a in range(args.agents):
                    push(finish, (problem, "solve", iteration + 1, a))
    return end


def chain(args: argparse.Namespace) -> float:
    """One problem's dependent calls: plan, select, then per iteration a solver and, after it, a judge."""
    per_round = service(args, args.solver_tokens) + service(args, JUDGE_MAX_TOKENS)
    return service(args, PLANNER_MAX_TOKENS) + service(args, 40) + args.iterations * per_round


async def bare_litellm(api_base: str, calls: int, concurrency: int, max_tokens: int) -> float:
    """CPU seconds per bare `litellm.acompletion` call, at the same concurrency."""
    litellm = import_litellm()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await litellm.acompletion(
                model="openai/fake", api_base=api_base, api_key="sk-local", max_tokens=max_tokens,
                messages=[{"role": "user", "content": f"Problem:\nwarm {i}"}],
            )  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(8)))  # warm the client
    cpu = time.process_time()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return (time.process_time() - cpu) / calls


async def xolver_run(xolver: Xolver, texts: list[str], concurrency: int) -> tuple[float, float, list]:
    cpu, start = time.process_time(), time.perf_counter()
    results = await xolver.asolve_many(texts, concurrency=concurrency, return_exceptions=True)
    return time.perf_counter() - start, time.process_time() - cpu, results


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp())
    server = Server(args, work / "server.jsonl")
    try:
        bare_cpu = await bare_litellm(server.api_base, args.bare_calls, args.max_seqs, args.solver_tokens)
        since = time.time()
        wall, cpu, results = await xolver_run(
            team(args, server.api_base, max_concurrency=1024), problems(args.problems),
                                              concurrency=args.problems)  # fmt: skip
        log = server.records(since)
        failures = [r for r in results if isinstance(r, BaseException)]
        calls = sum(r.usage.calls for r in results if not isinstance(r, BaseException))
        total_service = sum(r["service"] for r in log)
        bound = max(total_service / args.max_seqs, chain(args))
        ideal = zero_overhead_makespan(args)
        seq_n = min(args.sequential_problems, args.problems)
        seq_wall, _, seq_results = await xolver_run(team(args, server.api_base, max_concurrency=1),
                                                    problems(seq_n), concurrency=1)  # fmt: skip
        seq_calls = sum(r.usage.calls for r in seq_results if not isinstance(r, BaseException))
        seq_scaled = seq_wall * calls / max(seq_calls, 1)
    finally:
        server.stop()

    faulty = Server(args, work / "faulty.jsonl", faults=args.faults)
    try:
        fault_wall, _, fault_results = await xolver_run(team(args, faulty.api_base, max_concurrency=1024),
                                                        problems(args.problems), concurrency=args.problems)  # fmt: skip
        injected = sum(1 for r in faulty.records(0) if r["fault"])
    finally:
        faulty.stop()
    finished = [r for r in fault_results if not isinstance(r, BaseException)]
    retries = sum(r.usage.retries for r in finished)
    failed_calls = sum(r.usage.failed_calls for r in finished)
    judge_failures = sum(r.judge_failures for r in finished)

    print(f"{args.problems} problems, m={args.agents}, I={args.iterations}, server cap {args.max_seqs} sequences, "
          f"ttft {args.ttft}s, {args.rate:g} tokens/s per sequence")  # fmt: skip
    print(f"  model calls                      {calls} ({len(failures)} problems failed)")
    print(f"  wall                             {wall:.2f}s")
    print(f"  server-bound ideal               {ideal:.2f}s (these calls on this server with zero framework cost)")
    print(f"  loose lower bound                {bound:.2f}s (logged service {total_service:.1f}s / {args.max_seqs} "
          f"slots, or one problem's chain {chain(args):.2f}s)")  # fmt: skip
    print(f"  wall / ideal                     {wall / ideal:.3f}   (wall / loose bound {wall / bound:.3f})")
    print(f"  sequential schedule              {seq_scaled:.1f}s (measured on {seq_n} problems, {seq_wall:.1f}s, "
          f"scaled by calls)")  # fmt: skip
    print(f"  speed-up over sequential         {seq_scaled / wall:.1f}x")
    print(f"  model calls per second           {calls / wall:.1f}")
    print(f"  framework CPU per call           {cpu / calls * 1000:.2f}ms")
    print(f"  bare litellm CPU per call        {bare_cpu * 1000:.2f}ms")
    print(f"  framework / bare litellm         {cpu / calls / bare_cpu:.2f}x")
    print(f"with {args.faults:.0%} injected faults (429, 500, timeout, garbled, empty in equal shares):")
    print(f"  problems finished                {len(finished)}/{args.problems} in {fault_wall:.2f}s")
    print(f"  faults the server injected       {injected} (+429/500 replies not logged as served)")
    print(f"  retried calls                    {retries}")
    print(f"  calls failed after retries       {failed_calls}; unparsed judgements {judge_failures}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--max-seqs", type=int, default=64)
    # A GPU server decodes a large model at tens of tokens/s per sequence when 64 are in flight; much
    # faster fake sequences make litellm's own ~8 ms of CPU per call the limit instead of the server.
    parser.add_argument("--ttft", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--output-tokens", type=int, default=256)
    parser.add_argument("--solver-tokens", type=int, default=256)
    parser.add_argument("--call-timeout", type=float, default=8.0)
    parser.add_argument("--bare-calls", type=int, default=256)
    parser.add_argument("--sequential-problems", type=int, default=1, help="run for real, then scaled by calls")
    parser.add_argument("--faults", type=float, default=0.10)
    return parser


if __name__ == "__main__":
    asyncio.run(main(build_parser().parse_args()))
