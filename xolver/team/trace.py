"""One line a person reads per trace event: the plain view of `xolver chat` and the reasoning stream of
`xolver serve-team` tell a solve the same way."""

from __future__ import annotations

from xolver.schema import (
    AgentStarted,
    CandidateReady,
    IterationDone,
    Judged,
    MemoryWritten,
    PlanReady,
    TraceEvent,
    Verified,
)


def _score(score: float | None) -> str:
    return f"{score:.2f}" if score is not None else "-"


def _short(text: str, width: int = 80) -> str:
    """`text` on one line, cut at `width` characters (a program is shown by its start)."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def describe(event: TraceEvent) -> str:
    """What happened, in one line."""
    if isinstance(event, PlanReady):
        extra = f" ({event.exemplars} exemplars)" if event.exemplars else ""
        return "team: " + ", ".join(r.name for r in event.roles) + extra
    if isinstance(event, AgentStarted):
        return f"[iteration {event.iteration + 1}] {event.role} is working"
    if isinstance(event, CandidateReady):
        candidate = event.candidate
        if candidate.error is not None:
            return f"  {candidate.role} failed: {_short(candidate.error)}"
        return f"  {candidate.role} proposes {_short(candidate.answer or candidate.code or '(no answer)')!r}"
    if isinstance(event, Judged):
        j = event.judgement
        return f"  judge on {event.role}: {_score(j.score) if j.score is not None else j.status}"
    if isinstance(event, IterationDone):
        return f"iteration {event.index + 1} done: best answer {event.best_answer!r} (score {_score(event.best_score)})"
    if isinstance(event, Verified):
        return f"verified: {event.verification.passed} ({event.verification.method})"
    assert isinstance(event, MemoryWritten)
    return f"learned {len(event.ids)} experiences"
