"""What each decision setting of a profile buys on the runs it was measured on: a recorded run replayed
(`xolver replay`: its own replies, program runs and exemplars) with one setting at a time set to the general
profile's value, and the right answers counted.

    python tools/bench_profile.py runs/families/xolver-learn.jsonl            # the embedded profile's settings
    python tools/bench_profile.py RUN.jsonl --profile embedded --fields tie_break,distinct_programs

Only settings that decide between recorded candidates replay faithfully (the vote, the tie-break); settings
that change a prompt or a sample (temperature, exemplar turns) need a run of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from xolver import profiles
from xolver.bench.records import load_run
from xolver.bench.replay import replay_records

DECIDING = ("distinct_programs", "copy_weight", "analogy_weight", "tie_break", "judge_weight")


async def right_with(records: list, name: str, changes: dict[str, object]) -> tuple[int, int, int]:
    """Right answers of the replayed run with `changes` made to profile `name`; (right, changed, not replayed)."""
    original = profiles.PROFILES[name]
    tried = original.model_copy(update=changes)
    profiles.PROFILES[name] = tried
    setattr(profiles, name.upper(), tried)  # `auto` resolves through the module's constants
    try:
        replays = await replay_records(records, concurrency=4)
    finally:
        profiles.PROFILES[name] = original
        setattr(profiles, name.upper(), original)
    right = sum(bool(r.correct_after) for r in replays if r.error is None)
    return right, sum(not r.identical for r in replays), sum(r.error is not None for r in replays)


async def run(args: argparse.Namespace) -> None:
    records = [r for r in load_run(args.run).records if r.solve is not None and r.correct is not None]
    base = profiles.PROFILES[args.profile]
    fields = args.fields.split(",") if args.fields else [f for f in DECIDING if getattr(base, f) != getattr(
        profiles.GENERAL, f)]  # fmt: skip
    print(f"{args.run}: {len(records)} graded solves, profile {args.profile}\n")
    print("| setting | the profile's value | right | general's value | right | solves changed |")
    print("|---|---|---|---|---|---|")
    kept = (await right_with(records, args.profile, {}))[0]
    rows = [(field, {field: getattr(profiles.GENERAL, field)}) for field in fields]
    rows.append(("all of them", {field: getattr(profiles.GENERAL, field) for field in fields}))
    for label, changes in rows:
        right, changed, failed = await right_with(records, args.profile, changes)
        note = f" ({failed} not replayed)" if failed else ""
        ours = getattr(base, label) if label in fields else "-"
        theirs = changes[label] if label in fields else "-"
        print(f"| {label} | {ours} | {kept}/{len(records)} | {theirs} | {right}/{len(records)} | {changed}{note} |",
              flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a results file of `xolver bench run` (its .solves.jsonl beside it)")
    parser.add_argument("--profile", default="embedded")
    parser.add_argument("--fields", help="comma-separated settings (default: every deciding one that differs)")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
