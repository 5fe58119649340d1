"""How close Xolver gets to the model server's own limit, measured against the fake server.

Limits (the default): the same burst of independent model calls through the model client, side by side on
one server, with the limit set to the server's known capacity (the ideal), with a fixed limit of 16 (the
old default) and with the adaptive limit (today's default; the client is not told the capacity), at
capacities 8, 64 and 256 sequences; then against a rate-limited server (429 above a fixed request rate,
with and without `Retry-After`), and against a server whose latency grows with load past a knee
(continuous batching), where the limit should settle where completed tokens per second stop rising rather
than at the most the server accepts. Each is repeated `--repeat` times, modes interleaved; medians.

With `--team`, a team batch instead: N problems through `solve_many` (m agents, I iterations); the strictly sequential
schedule (one call at a time, one problem at a time) on the same kind of calls; bare `litellm.acompletion`
calls for the CPU baseline; and a run with injected faults. Prints wall time, the server-bound ideal
(from the server's log: total service time over its sequence cap, or one problem's chain of dependent
calls if that is longer), wall/ideal, the speed-up over the sequential schedule, model calls per second,
and framework CPU per model call beside bare litellm's.

    python tools/bench_throughput.py [--repeat 3] [--service 0.5] [--waves 12]
    python tools/bench_throughput.py --team [--problems 32] [--agents 3] [--iterations 2] [--max-seqs 64]

With `--spread`, where one process stops: the same batch run by `xolver bench run` in one process and over
Ray with `--workers` actors, against a server fast enough (1024 sequences, calls of a few milliseconds)
that the client's CPU, not the server, sets the pace. Prints model calls per second while the server was
busy (from its log: first arrival to last reply, so Ray's start-up is not counted) and client CPU.

    python tools/bench_throughput.py --spread [--problems 96] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from xolver import Xolver
from xolver.errors import ModelError
from xolver.llm import ModelClient, usage_scope
from xolver.llm.litellm_model import import_litellm
from xolver.schema import STANDARD_TOKENS, ChatMessage, LimitState, Settings

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


def team(args: argparse.Namespace, api_base: str, **limit: object) -> Xolver:
    return Xolver(
        model="openai/fake", api_base=api_base, agents=args.agents, iterations=args.iterations, exemplars=0,
        memory=False, sandbox="none", recall=False, timeout=args.call_timeout, retries=4, retry_delay=0.05,
        max_tokens=args.solver_tokens, **limit,
    )  # fmt: skip


def service(args: argparse.Namespace, max_tokens: int) -> float:
    return args.ttft + min(max_tokens, args.output_tokens) / args.rate


def zero_overhead_makespan(args: argparse.Namespace) -> float:
    """The same calls scheduled on the same server by a framework that costs nothing: each call is sent
    the instant its dependencies finish, and the server runs up to `max_seqs` at once, first come first
    served. Per problem: plan, select, then per iteration m solver calls, each judged when it finishes,
    the next iteration starting when all m judgements are in."""
    import heapq

    plan, select = service(args, STANDARD_TOKENS["plan"]), service(args, STANDARD_TOKENS["select"])
    solve, judge = service(args, args.solver_tokens), service(args, STANDARD_TOKENS["judge"])
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
    per_round = service(args, args.solver_tokens) + service(args, STANDARD_TOKENS["judge"])
    start = service(args, STANDARD_TOKENS["plan"]) + service(args, STANDARD_TOKENS["select"])
    return start + args.iterations * per_round


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


async def team_batch(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp())
    server = Server(args, work / "server.jsonl")
    try:
        bare_cpu = await bare_litellm(server.api_base, args.bare_calls, args.max_seqs, args.solver_tokens)
        since = time.time()
        wall, cpu, results = await xolver_run(
            team(args, server.api_base), problems(args.problems),
                                              concurrency=args.problems)  # fmt: skip
        log = server.records(since)
        failures = [r for r in results if isinstance(r, BaseException)]
        calls = sum(r.usage.calls for r in results if not isinstance(r, BaseException))
        total_service = sum(r["service"] for r in log)
        bound = max(total_service / args.max_seqs, chain(args))
        ideal = zero_overhead_makespan(args)
        seq_n = min(args.sequential_problems, args.problems)
        one_call = team(args, server.api_base, concurrency_limit="fixed", max_concurrency=1)
        seq_wall, _, seq_results = await xolver_run(one_call, problems(seq_n), concurrency=1)
        seq_calls = sum(r.usage.calls for r in seq_results if not isinstance(r, BaseException))
        seq_scaled = seq_wall * calls / max(seq_calls, 1)
    finally:
        server.stop()

    faulty = Server(args, work / "faulty.jsonl", faults=args.faults)
    try:
        fault_wall, _, fault_results = await xolver_run(team(args, faulty.api_base),
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


@dataclass
class Burst:
    """One burst of `calls` model calls, all ready at once, through a fresh model client."""

    label: str
    wall: float
    calls: int
    failed: int
    rejected: int
    tokens: int
    limit: LimitState
    cpu: float


def limit_server(args: argparse.Namespace, *flags: str) -> tuple[subprocess.Popen, str]:
    """The fake server with each call taking `--service` seconds when it runs at full speed."""
    tokens = 64
    return spawn(["--ttft", str(args.service / 2), "--rate", str(tokens / (args.service / 2)),
                  "--output-tokens", str(tokens), *flags])  # fmt: skip


async def burst(api_base: str, label: str, calls: int, **limit: object) -> Burst:
    settings = Settings(model="openai/fake", api_base=api_base, retry_delay=0.05, timeout=60.0, **limit)
    client = ModelClient.from_config(settings)
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        try:
            await client.complete("solver", [ChatMessage(role="user", content=f"Problem: {i}")], max_tokens=64)
        except ModelError:
            failed += 1

    cpu, start = time.process_time(), time.perf_counter()
    with usage_scope() as usage:
        async with asyncio.TaskGroup() as group:
            for i in range(calls):
                group.create_task(one(i))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    state = client.limits[0].state()
    await client.aclose()
    return Burst(label, wall, calls, failed, usage.rejected, usage.completion_tokens, state, cpu)


Modes = dict[str, dict[str, object]]


async def compare(api_base: str, repeat: int, calls: int, modes: Modes) -> dict[str, list[Burst]]:
    """Every mode `repeat` times, interleaved so a busy moment of the machine hits them all alike."""
    runs: dict[str, list[Burst]] = {label: [] for label in modes}
    for _ in range(repeat):
        for label, limit in modes.items():
            runs[label].append(await burst(api_base, label, calls, **limit))
            gc.collect()  # the next client gets a limit of its own, not the last one's
    return runs


def median_of(runs: list[Burst], value: Callable[[Burst], float]) -> float:
    return statistics.median(value(run) for run in runs)


def print_rows(runs: dict[str, list[Burst]], reference: float, reference_name: str) -> None:
    for label, bursts in runs.items():
        wall = median_of(bursts, lambda b: b.wall)
        print(f"  {label:<28} wall {wall:6.2f}s  {reference_name} {wall / reference:5.2f}x  "
              f"calls/s {median_of(bursts, lambda b: b.calls / b.wall):6.1f}  "
              f"tokens/s {median_of(bursts, lambda b: b.tokens / b.wall):7.0f}  "
              f"failed {max(b.failed for b in bursts)}  rejected {int(median_of(bursts, lambda b: b.rejected))}  "
              f"final limit {int(median_of(bursts, lambda b: b.limit.limit))}  "
              f"CPU/call {median_of(bursts, lambda b: b.cpu / b.calls) * 1000:.1f}ms")  # fmt: skip


async def on_server(args: argparse.Namespace, flags: list[str], calls: int, modes: Modes) -> dict[str, list[Burst]]:
    """`compare` against a fake server of its own, started with `flags`."""
    process, api_base = limit_server(args, *flags)
    try:
        return await compare(api_base, args.repeat, calls, modes)
    finally:
        process.terminate()


async def limits(args: argparse.Namespace) -> None:
    print(f"calls of {args.service}s at full speed, {args.repeat} runs of each mode interleaved, medians "
          f"(failed: the most in any run)")  # fmt: skip
    process, api_base = limit_server(args)
    try:
        await burst(api_base, "warm-up", 16)  # litellm's import and first client are nobody's cost
    finally:
        process.terminate()
    for capacity in args.capacities:
        calls = capacity * (args.waves if capacity < 256 else args.waves // 3)
        runs = await on_server(args, ["--max-seqs", str(capacity)], calls, {
            f"ideal (fixed {capacity})": {"concurrency_limit": "fixed", "max_concurrency": capacity},
            "fixed 16 (old default)": {"concurrency_limit": "fixed"},
            "adaptive (default)": {},
        })  # fmt: skip
        ideal = median_of(runs[f"ideal (fixed {capacity})"], lambda b: b.wall)
        bound = calls / capacity * args.service
        print(f"capacity {capacity} sequences, {calls} calls (server-bound wall {bound:.2f}s):")
        print_rows(runs, ideal, "/ideal")
    for retry_after in (True, False):
        flags = ["--max-seqs", "1024", "--rate-limit", str(args.rate_limit)]
        calls = args.rate_limit * args.waves
        runs = await on_server(args, flags + ([] if retry_after else ["--no-retry-after"]), calls, {
            "fixed 16 (old default)": {"concurrency_limit": "fixed"},
            "adaptive (default)": {},
        })  # fmt: skip
        allowed = calls / args.rate_limit
        print(f"rate limit {args.rate_limit} requests/s, {'with' if retry_after else 'without'} Retry-After, "
              f"{calls} calls (at the allowed rate {allowed:.1f}s):")  # fmt: skip
        print_rows(runs, allowed, "/allowed")
    calls = args.knee * args.waves * 2
    runs = await on_server(args, ["--max-seqs", "256", "--knee", str(args.knee)], calls, {
        f"fixed {args.knee} (the knee)": {"concurrency_limit": "fixed", "max_concurrency": args.knee},
        "fixed 256 (all it accepts)": {"concurrency_limit": "fixed", "max_concurrency": 256},
        "fixed 16 (old default)": {"concurrency_limit": "fixed"},
        "adaptive (default)": {},
    })  # fmt: skip
    knee = median_of(runs[f"fixed {args.knee} (the knee)"], lambda b: b.wall)
    print(f"latency grows past {args.knee} sequences (accepts 256), {calls} calls:")
    print_rows(runs, knee, "/knee")


def busy_rate(log: list[dict]) -> float:
    """Calls per second over the window the server was busy."""
    if not log:
        return 0.0
    return len(log) / max(1e-9, max(r["ended"] for r in log) - min(r["arrived"] for r in log))


def spread(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp())
    dataset = work / "problems.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"p{i}", "problem": text, "answer": "0"}) + "\n"
                               for i, text in enumerate(problems(args.problems))))  # fmt: skip
    rows = []
    for label, extra in [("one process", []), (f"ray, {args.workers} workers", ["--executor", "ray", "--workers",
                                                                              str(args.workers)])]:  # fmt: skip
        log = work / f"{len(rows)}.jsonl"
        process, api_base = spawn(["--ttft", "0.002", "--rate", "100000", "--output-tokens", "32", "--max-seqs",
                                   "1024", "--log", str(log), "--judge-score", "0.9"])  # fmt: skip
        try:
            command = [sys.executable, "-m", "xolver.cli", "bench", "run", "--dataset", str(dataset), "--out",
                       str(work / f"{len(rows)}.out.jsonl"), "--model", "openai/fake", "--api-base", api_base,
                       "-m", str(args.agents), "-I", str(args.iterations), "--no-memory", "--sandbox", "none",
                       "--concurrency", str(args.problems), *extra]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
        finally:
            process.terminate()
            process.wait()
        served = [json.loads(line) for line in log.read_text().splitlines()]
        records = (work / f"{len(rows)}.out.jsonl").read_text().splitlines()
        rows.append((label, busy_rate(served), len(served), len(records), wall, done.returncode))
    print(f"{args.problems} problems, m={args.agents}, I={args.iterations}, calls of ~2 ms on a server that "
          f"takes 1024 at once; {os.cpu_count()} CPU cores on this machine")  # fmt: skip
    for label, rate, calls, records, wall, code in rows:
        print(f"  {label:<18} {rate:7.1f} calls/s while busy  ({calls} calls, {records} records, "
              f"{wall:.1f}s with start-up, exit {code})")  # fmt: skip
    print(f"  ray / one process  {rows[1][1] / max(rows[0][1], 1e-9):.2f}x")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--team", action="store_true", help="a team batch instead of the limit comparisons")
    parser.add_argument("--spread", action="store_true", help="one process against Ray workers, in calls/s")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors (--spread)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--service", type=float, default=0.5, help="seconds per call at full speed (limits)")
    parser.add_argument("--waves", type=int, default=12, help="calls per run as a multiple of the capacity")
    parser.add_argument("--capacities", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--rate-limit", type=int, default=40, help="requests per second the rate-limited server admits")
    parser.add_argument("--knee", type=int, default=32, help="sequences past which the batching server slows down")
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
    arguments = build_parser().parse_args()
    if arguments.spread:
        spread(arguments)
    else:
        asyncio.run(team_batch(arguments) if arguments.team else limits(arguments))
