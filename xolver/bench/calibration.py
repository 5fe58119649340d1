"""Calibration: how often "verified" is right, for each piece of evidence and each rule, on graded runs; and
the cheapest rule that reaches a target precision on them (`xolver calibrate`).

Every solve records all its evidence (`Verification.evidence`) and a graded run knows the truth, so any rule
can be weighed afterwards: a rule here is the set of evidence kinds that must pass (a program that failed
or tests that failed still veto, as in every rule). The fitted rule is the one with the highest recall among
those whose precision reaches the target on at least `min_verified` verified solves, the cheaper first on a
tie (an independent check or tests written after the solve cost a model call each); fewer verified solves
than that and no rule is fitted, whatever its precision (a precision of 1.0 on 3 solves says little).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import Field

from xolver.bench.runner import BenchRecord
from xolver.schema import EvidenceKind, Record, TaskKind
from xolver.team.evidence import evidence_rule, judge_rule, passed, required_rule

KINDS: dict[TaskKind, tuple[EvidenceKind, ...]] = {
    "math": ("own_program", "independent_check", "judge", "agreement", "self_certainty"),
    "code": ("tests", "unseen_tests", "judge", "agreement"),
    "general": ("judge", "agreement", "self_certainty"),
}
COST: dict[EvidenceKind, int] = {"independent_check": 1, "unseen_tests": 1}  # model calls the evidence takes


class Precision(Record):
    """How a verifier (a piece of evidence, a rule) did against the references."""

    verified: int = Field(description="graded solves it called verified: the n behind the precision")
    right: int = Field(description="of those, the right ones")
    right_total: int = Field(description="right answers among all graded solves")
    graded: int
    precision: float | None = Field(description="right / verified")
    recall: float | None = Field(description="right / right_total: the right answers it lets into memory")


class FittedRule(Record):
    task: TaskKind
    requires: list[EvidenceKind]
    measured: Precision
    cost: int = Field(description="model calls its evidence takes per solve")


def task_of(record: BenchRecord) -> TaskKind:
    """The kind of problem a record solved, read from the evidence it gathered."""
    kinds = {e.kind for e in record.verification.evidence} if record.verification else set()
    if kinds & {"tests", "unseen_tests"}:
        return "code"
    return "math" if kinds & {"own_program", "independent_check"} else "general"


def graded(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    return [r for r in records if r.status == "graded" and r.verification is not None and r.verification.evidence]


def measure(records: Sequence[BenchRecord], verifies: Callable[[BenchRecord], bool]) -> Precision:
    rows = graded(records)
    called = [r for r in rows if verifies(r)]
    right, right_total = sum(bool(r.correct) for r in called), sum(bool(r.correct) for r in rows)
    return Precision(verified=len(called), right=right, right_total=right_total, graded=len(rows),
                     precision=right / len(called) if called else None,
                     recall=right / right_total if right_total else None)  # fmt: skip


def evidence_precision(records: Sequence[BenchRecord]) -> dict[str, Precision]:
    """Each evidence kind that passed, and each rule's verdict (the run's own, the evidence rule, the judge
    rule), as a verifier of its own."""
    rows = graded(records)
    table: dict[str, Precision] = {}
    for kind in dict.fromkeys(e.kind for r in rows for e in r.verification.evidence):  # type: ignore[union-attr]
        table[kind] = measure(rows, lambda r, kind=kind: passed(r.verification.evidence, kind) is True)  # type: ignore[union-attr, misc]
    table["rule: the run's own"] = measure(rows, lambda r: r.verified)
    table["rule: evidence"] = measure(rows, lambda r: evidence_rule(task_of(r), r.verification.evidence))  # type: ignore[union-attr]
    table["rule: judge"] = measure(rows, lambda r: judge_rule(task_of(r), r.verification.evidence))  # type: ignore[union-attr]
    return table


def candidates(records: Sequence[BenchRecord], task: TaskKind) -> list[FittedRule]:
    """Every rule (a non-empty set of the task's evidence kinds) measured on the records of that task."""
    rows = [r for r in graded(records) if task_of(r) == task]
    rules = []
    for size in range(1, len(KINDS[task]) + 1):
        for kinds in itertools.combinations(KINDS[task], size):
            measured = measure(rows, lambda r, kinds=kinds: required_rule(r.verification.evidence, kinds))  # type: ignore[union-attr, misc]
            rules.append(FittedRule(task=task, requires=list(kinds), measured=measured,
                                    cost=sum(COST.get(k, 0) for k in kinds)))  # fmt: skip
    return rules


def fit(
    records: Sequence[BenchRecord], task: TaskKind, *, target: float = 0.95, min_verified: int = 20
) -> FittedRule | None:
    """The rule of highest recall whose precision reaches `target` on at least `min_verified` solves (cheaper,
    then fewer kinds, first on a tie); None when no rule does."""
    fits = [r for r in candidates(records, task)
            if r.measured.verified >= min_verified and (r.measured.precision or 0.0) >= target]  # fmt: skip
    return min(fits, key=lambda r: (-(r.measured.recall or 0.0), r.cost, len(r.requires)), default=None)


def write_rules(path: Path, rules: Sequence[FittedRule]) -> None:
    """The fitted rules into a TOML config (`verify_requires`, `verify_precision`), replacing those tables
    and keeping everything else."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for table in ("verify_requires", "verify_precision"):
        text = re.sub(rf"(?ms)^\[{table}\]\n.*?(?=^\[|\Z)", "", text)
    lines = ["[verify_requires]"] + [f"{r.task} = {[str(k) for k in r.requires]!r}".replace("'", '"') for r in rules]
    lines += ["", "[verify_precision]"] + [f"{r.task} = {r.measured.precision:.4f}" for r in rules]
    path.write_text(text.rstrip() + ("\n\n" if text.strip() else "") + "\n".join(lines) + "\n", encoding="utf-8")
