"""A batch run against each reasoning mode of the fake server, with default settings: how many calls were
cut, whether every role's reply was read, whether right answers were graded right, and what thinking cost.

The fake model thinks `--thinking` tokens full of decoys (a boxed 31337, 'Score: 0', a program printing
31337) before each answer, in `reasoning_content` or inline `<think>` tags (with or without the opening tag);
its answers are right (10063 for the math problems, a summing program for the code ones).

    python tools/bench_reasoning.py --problems 20 --thinking 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from fake_server import spawn

from xolver.bench import load_problems
from xolver.bench.batch import RunSpec, run_batch
from xolver.config import load_config

MODES = ("none", "field", "inline", "inline-open-missing")


def problem_file(folder: Path, count: int) -> Path:
    rows = [{"id": f"m{i}", "problem": f"What is 347 times 29? (copy {i})", "answer": "10063"}
            for i in range(count - count // 4)]  # fmt: skip
    rows += [
        {"id": f"c{i}", "kind": "code", "problem": f"Read integers on one line and print their sum ({i}).",
         "tests": [{"input": "1 2 3", "output": "6"}, {"input": f"{i} 5", "output": str(i + 5), "hidden": True}]}
        for i in range(count // 4)
    ]  # fmt: skip
    path = folder / "problems.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


async def run(mode: str, problems_path: Path, thinking: int, folder: Path) -> dict[str, object]:
    process, api_base = spawn(["--reasoning", mode, "--thinking-tokens", str(thinking), "--rate", "50000",
                               "--ttft", "0.01", "--max-seqs", "256"])  # fmt: skip
    try:
        problems, _ = load_problems(problems_path)
        config = load_config(model="openai/qwq-32b", api_base=api_base)  # defaults otherwise
        started = time.perf_counter()
        records = await run_batch(RunSpec(config, dataset="mixed"), problems, folder / f"{mode}.jsonl", concurrency=8)
        wall = time.perf_counter() - started
    finally:
        process.terminate()
    solves = [r.solve for r in records if r.solve is not None]
    calls = [call for solve in solves for call in solve.calls]
    unread = sum(
        1 for solve in solves for it in solve.iterations for c in it.candidates
        if c.error is not None or c.judgement is None or c.judgement.status != "scored"
    )  # fmt: skip
    leaked = sum("31337" in (c.answer or "") or "31337" in c.reasoning for s in solves for it in s.iterations
                 for c in it.candidates)  # fmt: skip
    return {
        "mode": mode, "problems": len(records), "correct": sum(bool(r.correct) for r in records),
        "failed": sum(r.status != "graded" for r in records), "calls": len(calls),
        "truncated": sum(r.usage.truncated for r in records), "unread": unread, "thoughts leaked": leaked,
        "reasoning tokens": sum(r.usage.reasoning_tokens for r in records), "wall s": round(wall, 1),
    }


async def main(count: int, thinking: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="xolver-reasoning-"))
    path = problem_file(folder, count)
    rows = [await run(mode, path, thinking, folder) for mode in MODES]
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--thinking", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.problems, args.thinking))
