"""How the team decides between its candidates: one rule for every model, written once.

A candidate of a math or general problem votes for its answer:
- 1, whether its own program printed the answer or it wrote it down, and nothing when its program failed,
  printed nothing, or computed with an example's numbers instead of the problem's (its own tool refuted it);
- times `copy_weight` when its agent had been shown the team's answers (a later round's shared memory, its
  own last attempt): whatever it answers then, agreeing or not, it is no independent sample of the model.
  First-round answers count fully; an analogy (a retrieved solved program rebound to the problem) counts
  `analogy_weight`: it is memory's candidate, not a sample of the model;
- with `distinct_programs` (a profile for greedy decoding), the same program written by several agents
  counts once;
- plus `judge_weight` times the judge's score (0 in the shipped profiles: a judge of the team's own model
  decides no vote).
The answer with the most votes wins. Equal votes are decided by the profile's `tie_break`, in order:
`check` (the verifier's independent program printed it), `program` (a program printed it), `judge` (the
judge's score), `analogy` (rebound from a verified solve, the best retrieved exemplar's first), `scored`
(judged at all), `later` (a later round); then the order they came in (the first round's agents first, as a
majority vote reads them). No rule prefers a candidate for its origin unless its profile
says so, with the measurement (`xolver.profiles`). Code candidates rank by their tests, then by how many
candidates agree, then the later attempt.

`tools/bench_skill.py` runs this rule against simulated models of every skill.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from collections.abc import Callable, Mapping

from xolver.profiles import Profile
from xolver.schema import Candidate
from xolver.team.parsing import canonical_answer
from xolver.team.programs import program_answered

ANALOGY = "analogy"  # the role of a candidate rebound from a verified solve's program (xolver.team.analogy)
Key = tuple[float, ...]


def answer_key(candidate: Candidate) -> str | None:
    """What two candidates must share to agree: the canonical answer, or the code for code problems."""
    return canonical_answer(candidate.answer) if candidate.answer is not None else candidate.code


def support(candidate: Candidate) -> float:
    """Whether a candidate's own tool left its answer standing: 0 when its program failed, printed nothing
    (whatever it wrote then is unsupported) or computed with an example's numbers instead of the problem's."""
    if candidate.copied is not None:
        return 0.0
    return 0.0 if program_answered(candidate) is False else 1.0


def evidence_key(candidate: Candidate) -> str:
    """The work behind a candidate's answer: the program that printed it, else the reasoning; comments, layout
    and variable names make no program of their own."""
    runs = [call for call in candidate.tool_calls if call.tool == "python"]
    if not runs:
        return " ".join(candidate.reasoning.split())
    code = str(runs[-1].arguments.get("code", ""))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return " ".join(code.split())
    return ast.unparse(_Renamed().visit(tree))


class _Renamed(ast.NodeTransformer):
    """Every variable renamed by the order it first appears: `cost = 9 * 30` and `total = 9 * 30` are one
    program."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id not in _BUILTINS:
            node.id = self.names.setdefault(node.id, f"v{len(self.names)}")
        return node


_BUILTINS = frozenset(dir(builtins))


def vote(candidate: Candidate, profile: Profile) -> float:
    """One candidate's vote for its answer (before the judge's share)."""
    origin = profile.analogy_weight if candidate.role == ANALOGY else profile.copy_weight if candidate.saw else 1.0
    return support(candidate) * origin


def votes(candidates: list[Candidate], profile: Profile) -> dict[str, float]:
    """Each answer's votes; with `distinct_programs`, each distinct program (or reasoning) behind an answer
    counts once, at the largest vote it got."""
    best: dict[tuple[str, str], float] = {}
    for c in candidates:
        if (key := answer_key(c)) is None:
            continue
        slot = (key, evidence_key(c) if profile.distinct_programs else c.id)
        best[slot] = max(best.get(slot, 0.0), vote(c, profile))
    tally: dict[str, float] = {}
    for (key, _), value in best.items():
        tally[key] = tally.get(key, 0.0) + value
    return tally


Checked = Mapping[str, bool | None]  # answer -> whether the verifier's independent program printed it
_CRITERIA: dict[str, Callable[[Candidate, Checked], Key]] = {
    "check": lambda c, checked: (_sign(checked.get(answer_key(c) or "")),),
    "program": lambda c, _: (1.0 if program_answered(c) else 0.0,),
    "judge": lambda c, _: (c.score if c.score is not None else -1.0,),
    "analogy": lambda c, _: (1.0, -c.agent) if c.role == ANALOGY else (0.0, 0.0),
    "scored": lambda c, _: (1.0 if c.score is not None else 0.0,),
    "later": lambda c, _: (float(c.iteration),),
}


def _sign(agrees: bool | None) -> float:
    return 0.0 if agrees is None else 1.0 if agrees else -1.0


def ranked(
    candidates: list[Candidate], profile: Profile, *, judge_weight: float, by_tests: bool = False,
    checked: Checked | None = None,
) -> list[Candidate]:  # fmt: skip
    """`candidates` best first, by the rule above; a failed or unjudged candidate is never ranked."""
    pool = [c for c in candidates if c.error is None and c.judgement is not None]
    if by_tests:
        agree = Counter(answer_key(c) for c in pool if answer_key(c) is not None)
        return sorted(pool, key=lambda c: (_score(c), agree.get(answer_key(c), 0), c.iteration), reverse=True)
    tally, checked = votes(pool, profile), checked or {}

    def key(c: Candidate) -> Key:
        weighed = tally.get(answer_key(c) or "", 0.0) + judge_weight * max(_score(c), 0.0)
        return (weighed, *(part for name in profile.tie_break for part in _CRITERIA[name](c, checked)))

    return sorted(pool, key=key, reverse=True)


def _score(c: Candidate) -> float:
    return c.score if c.score is not None else -1.0


def tied(candidates: list[Candidate], profile: Profile, *, judge_weight: float) -> list[str]:
    """The answers that share the top vote, in rank order: what the tie-break must decide between."""
    order = ranked(candidates, profile, judge_weight=judge_weight)
    tally = votes(order, profile)

    def weighed(c: Candidate) -> float:
        return tally.get(answer_key(c) or "", 0.0) + judge_weight * max(_score(c), 0.0)

    top = weighed(order[0]) if order else 0.0
    answers = [answer_key(c) for c in order if answer_key(c) is not None and weighed(c) == top]
    return list(dict.fromkeys(a for a in answers if a is not None))


__all__ = ["ANALOGY", "answer_key", "evidence_key", "ranked", "support", "tied", "vote", "votes"]
