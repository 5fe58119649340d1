"""`xolver replay`: a recorded solve run again on today's loop and parsers, with no model server.

The runtime is given what the recording holds in place of its services: a `ReplayModel` per role (the
recorded replies), a `ReplaySandbox` (the recorded program runs) and `RecordedExemplars` (the exemplars
the solve was shown; nothing is written). The same settings and method run again; what changed (the
answer, a round's candidates and scores, the verification, the stop reason) is listed, and how faithful
the replay was: replies matched exactly, matched to a changed prompt, or missing.

Timing does not replay: a recorded solve cut by its deadline runs on here until it stops by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import Field

from xolver.bench.runner import BenchRecord, grade_rounds
from xolver.llm.client import ROLES
from xolver.llm.replay import ReplayBook, ReplayModel
from xolver.memory.replay import RecordedExemplars
from xolver.runtime import Runtime
from xolver.sandbox.replay import ReplaySandbox
from xolver.schema import Candidate, Record, SolveResult
from xolver.tools.grading import is_code


class Change(Record):
    """One thing that came out differently: what, and its value in the recording and in the replay."""

    what: str
    before: str
    after: str


class Replayed(Record):
    """The replay of one recorded solve."""

    id: str
    changes: list[Change] = Field(default_factory=list)
    exact: int = Field(0, description="requests answered by the recorded reply to the very same request")
    nearest: int = Field(0, description="requests whose prompt changed, answered by the most similar recorded one")
    reused: int = Field(0, description="requests past the recording (an extra round), given a used reply again")
    missing: int = Field(0, description="requests no recorded reply could answer (they failed)")
    unasked: int = Field(0, description="recorded calls today's code did not make")
    runs_missing: int = Field(0, description="programs the recording never ran")
    correct_before: bool | None = None
    correct_after: bool | None = None
    error: str | None = None
    result: SolveResult | None = Field(None, exclude=True, description="the replayed solve")

    @property
    def identical(self) -> bool:
        faithful = not (self.nearest or self.reused or self.missing or self.unasked or self.runs_missing)
        return not self.changes and self.error is None and faithful


def replay_runtime(recorded: SolveResult, *, strict: bool = False) -> tuple[Runtime, ReplayBook, ReplaySandbox]:
    """A runtime that solves as `recorded` did, with its replies, program runs and exemplars for services."""
    settings = recorded.config.settings
    book = ReplayBook(recorded.calls, strict=strict)
    models = {role: ReplayModel(book, recorded.config.models.get(role, settings.model_for(role))) for role in ROLES}
    sandbox = ReplaySandbox(recorded.runs)
    runtime = Runtime(
        settings, method=recorded.config.method, model=models,
        store=RecordedExemplars(recorded.exemplars) if settings.memory else None,
        sandbox=None if settings.sandbox == "none" else sandbox,
    )  # fmt: skip
    return runtime, book, sandbox


async def replay_record(record: BenchRecord, *, strict: bool = False) -> Replayed:
    """Replay a record's solve. An answer that changed is graded again against the record's reference when
    that needs no sandbox (a code problem's hidden tests are not in the record)."""
    recorded = record.solve
    if recorded is None:
        return Replayed(id=record.id, error=f"no recorded solve ({record.status}: {record.error or 'not kept'})")
    try:
        runtime, book, sandbox = replay_runtime(recorded, strict=strict)
        async with runtime:
            result = await runtime.solve(recorded.problem)
            correct_after = record.correct
            if record.correct is not None and result.answer != recorded.answer:
                problem = recorded.problem.model_copy(update={"answer": record.reference})
                correct_after = None if is_code(problem) else (await grade_rounds(runtime.grader, problem, result))[0]
    except Exception as exc:
        return Replayed(id=record.id, error=f"the replay failed: {type(exc).__name__}: {exc}")
    counts = {how: sum(m.how == how for m in book.matches) for how in ("exact", "nearest", "reused", "missing")}
    return Replayed(
        id=record.id, changes=changes_between(recorded, result), unasked=len(book.unused()),
        runs_missing=sandbox.missing, correct_before=record.correct, correct_after=correct_after, result=result,
        **counts,
    )  # fmt: skip


async def replay_records(
    records: Sequence[BenchRecord], *, strict: bool = False, concurrency: int = 4
) -> list[Replayed]:
    """Replay many records, `concurrency` at a time, in their order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(record: BenchRecord) -> Replayed:
        async with gate:
            return await replay_record(record, strict=strict)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(record)) for record in records]
    return [task.result() for task in tasks]


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _answer(candidate: Candidate) -> str | None:
    return candidate.answer if candidate.code is None else candidate.code


def _verdict(candidate: Candidate) -> str:
    judgement = candidate.judgement
    if candidate.error is not None:
        return "failed"
    if judgement is None:
        return "unjudged"
    return _text(judgement.score) if judgement.status == "scored" else judgement.status


def changes_between(before: SolveResult, after: SolveResult) -> list[Change]:
    """What differs between two solves of one problem, ids, times and token counts aside."""
    changes: list[Change] = []

    def compare(what: str, old: object, new: object) -> None:
        if old != new:
            changes.append(Change(what=what, before=_text(old), after=_text(new)))

    compare("answer", before.answer, after.answer)
    compare("verified", before.verified, after.verified)
    compare("verification", before.verification.detail, after.verification.detail)
    compare("stop reason", before.stop_reason, after.stop_reason)
    compare("team", ", ".join(r.name for r in before.roles), ", ".join(r.name for r in after.roles))
    compare("exemplars", len(before.exemplars), len(after.exemplars))
    compare("rounds", len(before.iterations), len(after.iterations))
    for old_round, new_round in zip(before.iterations, after.iterations, strict=False):
        where = f"round {old_round.index + 1}"
        new_by_agent = {c.agent: c for c in new_round.candidates}
        for old in old_round.candidates:
            new = new_by_agent.get(old.agent)
            if new is None:
                continue
            who = f"{where} {old.role}"
            compare(f"{who} answer", _answer(old), _answer(new))
            compare(f"{who} score", _verdict(old), _verdict(new))
        compare(f"{where} best answer", old_round.best_answer, new_round.best_answer)
        compare(f"{where} best score", old_round.best_score, new_round.best_score)
    compare("memory writes", len(before.memory_writes), len(after.memory_writes))
    compare("judge failures", before.judge_failures, after.judge_failures)
    return changes


def describe(replayed: Replayed) -> str:
    """One line: identical, or each change, and how the replies were matched when not all exactly."""
    if replayed.error is not None:
        return f"{replayed.id}: {replayed.error}"
    parts = [f"{c.what} {c.before!r} -> {c.after!r}" for c in replayed.changes]
    notes = []
    if replayed.nearest:
        notes.append(f"{replayed.nearest} replies matched to changed prompts")
    if replayed.reused:
        notes.append(f"{replayed.reused} requests past the recording given a used reply again")
    if replayed.missing:
        notes.append(f"{replayed.missing} requests had no recorded reply")
    if replayed.unasked:
        notes.append(f"{replayed.unasked} recorded calls not made")
    if replayed.runs_missing:
        notes.append(f"{replayed.runs_missing} programs never run in the recording")
    if not parts:
        parts.append("identical" if not notes else "same outcome")
    return f"{replayed.id}: " + "; ".join(parts) + (f" [{'; '.join(notes)}]" if notes else "")


def summarize(replays: Sequence[Replayed]) -> str:
    identical = sum(r.identical for r in replays)
    failed = sum(r.error is not None for r in replays)
    changed = len(replays) - identical - failed
    line = f"{len(replays)} replayed: {identical} identical, {changed} changed, {failed} not replayed"
    graded = [r for r in replays if r.correct_before is not None]
    if graded:
        before = sum(bool(r.correct_before) for r in graded)
        after = sum(bool(r.correct_after) for r in graded if r.correct_after is not None)
        unknown = sum(r.correct_after is None for r in graded)
        line += f"; correct {before} -> {after} of {len(graded)} graded"
        if unknown:
            line += f" ({unknown} changed code answers not graded again: the record has no hidden tests)"
    return line
