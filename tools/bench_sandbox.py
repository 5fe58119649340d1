"""Per-run latency of the sandbox backends, side by side in one run: cold Docker (a new container per
run), the warm Docker pool, and the process sandbox, on the same small program.

    python tools/bench_sandbox.py [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from xolver.sandbox import DockerSandbox, ProcessSandbox, Sandbox, doctor

PROGRAM = "import sys\nnumbers = list(map(int, sys.stdin.read().split()))\nprint(sum(numbers))\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(sandbox: Sandbox, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        result = await sandbox.run(PROGRAM, stdin=" ".join(map(str, range(i + 10))), timeout=10)
        times.append((time.perf_counter() - start) * 1000)
        assert result.ok and result.stdout.strip() == str(sum(range(i + 10))), result
    return times


async def run(runs: int) -> dict[str, float]:
    problems = doctor()
    rows: list[tuple[str, list[float]]] = []
    if problems["docker"] is None:
        cold = DockerSandbox(pool_size=0)  # every container is thrown away after its run
        rows.append(("docker, cold", await measure(cold, max(5, runs // 4))))
        warm = DockerSandbox(pool_size=1)
        warm.warm(1)
        rows.append(("docker, warm pool", await measure(warm, runs)))
        await warm.aclose()
    else:
        print(f"docker: not measured ({problems['docker']})")
    if problems["process"] is None:
        rows.append(("process", await measure(ProcessSandbox(), runs)))
    else:
        print(f"process: not measured ({problems['process']})")
    base = percentile(rows[-1][1], 0.5) if rows else 1.0
    print(f"{'backend':<18} | {'runs':>4} | {'p50':>8} | {'p95':>8} | {'p50 / process p50':>17}")
    print("-" * 66)
    for name, times in rows:
        p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
        print(f"{name:<18} | {len(times):>4} | {p50:>6.1f}ms | {p95:>6.1f}ms | {p50 / base:>16.2f}x")
    return {name: percentile(times, 0.5) for name, times in rows}


async def repeated(runs: int, repeat: int) -> None:
    rounds = []
    for number in range(1, repeat + 1):
        print(f"round {number} of {repeat}")
        rounds.append(await run(runs))
    medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    cold = medians.get("docker, cold")
    print(f"median over {repeat} rounds of each p50:")
    for name, p50 in medians.items():
        ratio = f" | {p50 / cold:.3f}x cold" if cold else ""
        print(f"  {name:<18} | {p50:>6.1f}ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(repeated(args.runs, args.repeat))


if __name__ == "__main__":
    main()
