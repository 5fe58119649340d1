"""Weighing the evidence for a final answer: the documented rule that decides "verified", and confidence.

The evidence rule (the default) asks a tool to confirm the answer; a judge model and agreement between
samples of the same model are weak evidence and never suffice alone:

- code: every visible test passes (when there are any) and the program also passes tests written after
  the solve, which the team never saw (at least one);
- math: the answer's own program, if it wrote one, ran cleanly; an independent program written in the
  sandbox computes the same value; and the judge approves or several kept candidates agree;
- general: the judge approves, candidates agree and, where the server gives log-probabilities, the model
  is confident; no tool can check prose, so this is as strong as it gets.

The judge rule is the weaker one Xolver used before: judge score and agreement (and, for code, the visible
tests). Every solve records all its evidence, so both rules can be computed for any run afterwards.
Confidence is the weighted share of the available evidence that passed; tool evidence weighs most.
"""

from __future__ import annotations

from collections.abc import Sequence

from xolver.schema import Evidence, EvidenceKind, TaskKind, Verification

WEIGHTS: dict[EvidenceKind, float] = {
    "tests": 3.0, "unseen_tests": 3.0, "own_program": 1.0, "independent_check": 3.0,
    "judge": 1.0, "agreement": 1.0, "self_certainty": 1.0,
}  # fmt: skip
CERTAINTY_THRESHOLD = 0.8


def passed(evidence: list[Evidence], kind: EvidenceKind) -> bool | None:
    found = [e.passed for e in evidence if e.kind == kind]
    return found[0] if found else None


def evidence_rule(task: TaskKind, evidence: list[Evidence]) -> bool:
    def ok(kind: EvidenceKind) -> bool:
        return passed(evidence, kind) is True

    def not_failed(kind: EvidenceKind) -> bool:
        return passed(evidence, kind) is not False

    if task == "code":
        return not_failed("tests") and ok("unseen_tests")
    if task == "math":
        return not_failed("own_program") and ok("independent_check") and (ok("judge") or ok("agreement"))
    return ok("judge") and ok("agreement") and not_failed("self_certainty")


def required_rule(evidence: list[Evidence], requires: Sequence[EvidenceKind]) -> bool:
    """A calibrated rule (`xolver calibrate`): every required kind passed, and no program or test failed."""
    vetoed = passed(evidence, "own_program") is False or passed(evidence, "tests") is False
    return bool(requires) and not vetoed and all(passed(evidence, kind) is True for kind in requires)


def judge_rule(task: TaskKind, evidence: list[Evidence]) -> bool:
    if task == "code" and passed(evidence, "tests") is not None:
        return passed(evidence, "tests") is True
    return passed(evidence, "judge") is True and passed(evidence, "agreement") is True


def confidence(evidence: list[Evidence]) -> float:
    made = [e for e in evidence if e.passed is not None]
    total = sum(WEIGHTS[e.kind] for e in made)
    return round(sum(WEIGHTS[e.kind] for e in made if e.passed) / total, 3) if total else 0.0


def verdict(
    task: TaskKind, evidence: list[Evidence], rule: str, requires: Sequence[EvidenceKind] | None = None
) -> Verification:
    """The verdict of `rule` on `evidence` (of the calibrated rule, when it `requires` evidence kinds), with
    what it rests on and a one-line account."""
    if requires:
        ok, rule = required_rule(evidence, requires), "calibrated"
    else:
        ok = evidence_rule(task, evidence) if rule == "evidence" else judge_rule(task, evidence)
    made = {e.kind for e in evidence if e.passed is not None}
    if task == "code" and made & {"tests", "unseen_tests"}:
        method = "tests"
    elif passed(evidence, "independent_check"):
        method = "tools"
    else:
        method = "judge" if "judge" in made else "none"
    detail = "; ".join(f"{e.kind} {'ok' if e.passed else 'failed' if e.passed is False else 'n/a'}"
                       + (f" ({e.detail})" if e.detail else "") for e in evidence)  # fmt: skip
    return Verification(
        method=method, passed=ok, detail=detail, rule=rule if rule in ("evidence", "calibrated") else "judge",
        evidence=evidence, confidence=confidence(evidence),
    )  # fmt: skip


def summary(evidence: list[Evidence]) -> list[str]:
    """What an experience passed, for memory: e.g. ["tests 3/3", "unseen_tests 4/4", "judge 1.00"]."""
    return [f"{e.kind} {e.detail}".strip() for e in evidence if e.passed]
