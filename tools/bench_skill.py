"""The team against simulated models of every skill, side by side on one problem set: the direct baseline,
self-consistency with as many samples as the team's first round (m), the majority vote over the team's own
first-round agents, and Xolver with default flags (its own store seeded from the starter banks, the process
sandbox), each graded by math-verify (`xolver.team.simulated` for the models).

    python tools/bench_skill.py                                           # test set, every p, every judge
    python tools/bench_skill.py --dataset tests/data/sim_dev.jsonl        # dev set: where rules are chosen
    python tools/bench_skill.py --profiles general,embedded --judges uninformative   # what a profile costs
    python tools/bench_skill.py --p 1 --reasoning inline-open-missing --methods xolver   # over HTTP, thinking
    python tools/bench_skill.py --dataset tests/data/sim_dev.jsonl --conform 0.5 --rule copy_weight=1   # tuning

With `--reasoning STYLE` the model is served by tools/fake_server.py (thinking `--thinking-tokens` tokens in
that style) under a name that says nothing (`openai/my-model`), through litellm like any served model.
Prints a table per judge kind: accuracy [Wilson 95% interval] with n, model calls per problem, and for the
team the problems it got right where its first-round majority did not (+) and the reverse (-).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_server import spawn

from xolver import profiles
from xolver.bench.batch import RunSpec, run_batch
from xolver.bench.datasets import load_problems
from xolver.bench.runner import BenchRecord
from xolver.profiles import GENERAL
from xolver.schema import Problem, Settings
from xolver.team.decision import ANALOGY, answer_key
from xolver.team.simulated import SimulatedModel, Skill
from xolver.tools.grading import Grader

ROOT = Path(__file__).resolve().parents[1]


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def cell(right: int, n: int) -> str:
    low, high = wilson(right, n)
    return f"{right / n:.3f} [{low:.2f}, {high:.2f}]" if n else "-"


async def first_round_majority(records: list[BenchRecord], problems: dict[str, Problem], grader: Grader) -> list[bool]:
    """Whether the most common answer of the team's agents in round one (first one given on a tie) is right."""
    graded = []
    for record in records:
        agents = [c for c in record.solve.iterations[0].candidates if c.role != ANALOGY and c.error is None] \
            if record.solve and record.solve.iterations else []  # fmt: skip
        counts = Counter(key for c in agents if (key := answer_key(c)) is not None)
        top = max(counts.values(), default=0)
        answer = next((c.answer for c in agents if counts.get(answer_key(c) or "", -1) == top), None)
        graded.append(bool(await grader.grade(problems[record.id], answer)) if answer is not None else False)
    return graded


async def run_method(args: argparse.Namespace, problems: list[Problem], skill: Skill, method: str, profile: str,
                     out: Path) -> list[BenchRecord]:  # fmt: skip
    """One method on the set: in this process against a `SimulatedModel`, or with `--reasoning` against the
    fake server simulating it over HTTP."""
    settings = Settings(sandbox=args.sandbox, profile=profile, samples=Settings().agents, seed=args.seed)
    if args.reasoning is None:
        spec = RunSpec(config=settings, method=method, model=SimulatedModel(problems, skill))
        return await run_batch(spec, problems, out, concurrency=args.concurrency)
    simulate = f"p={skill.p},judge={skill.judge},conform={skill.conform}"
    server, api_base = spawn([
        "--simulate", simulate, "--problems", args.dataset, "--reasoning", args.reasoning, "--thinking-tokens",
        str(args.thinking_tokens), "--rate", "50000", "--ttft", "0.01", "--output-tokens", "400", "--max-seqs", "256",
    ])  # fmt: skip
    try:
        spec = RunSpec(config=settings.changed(model=args.model, api_base=api_base), method=method)
        return await run_batch(spec, problems, out, concurrency=args.concurrency)
    finally:
        server.terminate()
        server.wait()


async def row_of(args: argparse.Namespace, problems: list[Problem], skill: Skill, grader: Grader) -> dict:
    """Every method (and Xolver in every profile asked for) at one skill, and the team's first-round majority."""
    row: dict = {"p": skill.p, "judge": skill.judge, "conform": skill.conform, "n": len(problems),
                 "dataset": Path(args.dataset).name, "rule": args.rule}  # fmt: skip
    by_id = {p.id: p for p in problems}
    for method in args.methods.split(","):
        for profile in args.profiles.split(",") if method == "xolver" else ["auto"]:
            with tempfile.TemporaryDirectory() as tmp:
                records = await run_method(args, problems, skill, method, profile, Path(tmp) / f"{method}.jsonl")
            label = method if method != "xolver" else f"xolver ({profile})"
            failed = sum(r.usage.failed_calls for r in records)
            cut = sum(r.usage.truncated for r in records)
            row[label] = {"right": sum(bool(r.correct) for r in records), "n": len(records), "failed_calls": failed,
                          "truncated": cut, "calls": sum(r.usage.calls for r in records) / max(1, len(records)),
                          "not_graded": [r.error for r in records if r.status != "graded"]}  # fmt: skip
            if method == "xolver" and "majority" not in row:
                majority = await first_round_majority(records, by_id, grader)
                team = [bool(r.correct) for r in records]
                row["majority"] = {"right": sum(majority), "n": len(majority),
                                   "plus": sum(t and not m for t, m in zip(team, majority, strict=True)),
                                   "minus": sum(m and not t for t, m in zip(team, majority, strict=True))}  # fmt: skip
    return row


def line(row: dict, labels: list[str]) -> str:
    cells = [f"{cell(row[k]['right'], row[k]['n'])}, {row[k]['calls']:.1f} calls" for k in labels]
    majority = row.get("majority")
    tail = [cell(majority["right"], majority["n"]), f"+{majority['plus']} / -{majority['minus']}"] if majority \
        else ["", ""]  # fmt: skip
    return f"| {row['p']:g} | " + " | ".join(cells + tail) + " |"


async def run(args: argparse.Namespace) -> list[dict]:
    problems = load_problems(args.dataset)[0][: args.limit]
    labels = [m if m != "xolver" else f"xolver ({p})" for m in args.methods.split(",")
              for p in (args.profiles.split(",") if m == "xolver" else [""])]  # fmt: skip
    rows = []
    grader = Grader()
    try:
        for judge in args.judges.split(","):
            print(f"\n### judge: {judge} ({Path(args.dataset).name}, n = {len(problems)})\n")
            print("| p | " + " | ".join(labels) + " | first-round majority | xolver vs majority |")
            print("|---" * (len(labels) + 3) + "|")
            for p in [float(x) for x in args.p.split(",")]:
                row = await row_of(args, problems, Skill(p=p, judge=judge, conform=args.conform), grader)
                print(line(row, labels), flush=True)
                for label in labels:
                    if row[label]["failed_calls"] or row[label]["truncated"] or row[label]["not_graded"]:
                        print(f"  {label}: {row[label]['failed_calls']} failed calls, {row[label]['truncated']} cut "
                              f"replies, not graded: {row[label]['not_graded'][:1]}", file=sys.stderr)  # fmt: skip
                rows.append(row)
    finally:
        await grader.aclose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default=str(ROOT / "tests/data/heldout.jsonl"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--p", default="0.3,0.5,0.7,0.9,1.0", help="skills, comma-separated")
    parser.add_argument("--judges", default="uninformative,informative,adversarial")
    parser.add_argument("--methods", default="direct,sc,xolver")
    parser.add_argument("--profiles", default="auto", help="Xolver's profile(s): auto (general here), embedded")
    parser.add_argument("--sandbox", default="process")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None, help="the runs' seed setting (the simulation draws anyway)")
    parser.add_argument("--reasoning", choices=["field", "inline", "inline-open-missing"],
                        help="serve the model over HTTP, thinking in this style")  # fmt: skip
    parser.add_argument("--thinking-tokens", type=int, default=2000)
    parser.add_argument("--model", default="openai/my-model", help="the served model's name (with --reasoning)")
    parser.add_argument("--conform", type=float, default=0.0, help="the simulated agents' chance to repeat the "
                        "team's first shown attempt in a later round")  # fmt: skip
    parser.add_argument("--rule", action="append", default=[], metavar="FIELD=VALUE",
                        help="try another value of a general-profile field (dev set only), e.g. copy_weight=1")
    parser.add_argument("--json", help="also write every row here")
    args = parser.parse_args()
    for change in args.rule:
        field, _, value = change.partition("=")
        tried = GENERAL.model_validate({**GENERAL.model_dump(), field: json.loads(value)})
        profiles.GENERAL = profiles.PROFILES["general"] = tried  # `auto` and `general` resolve to it in this process
    rows = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
