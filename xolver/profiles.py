"""Model profiles: what the team's rules need to know about the model they meet.

One rule serves every model: the `general` profile, tested on simulated models of every skill (always
right, right with probability p, a liar; `xolver.team.simulated`, `tools/bench_skill.py`). A setting that
only one model needs lives in that model's profile, named, with the measurement that justifies it, the
way pydantic-ai keeps a model's quirks in `profiles/` rather than in the agent loop. The embedded
SmolLM2-135M gets the `embedded` profile by default; any other model gets `general` unless a run names a
profile (`profile = "embedded"` in xolver.toml, `--profile embedded`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TieBreak = Literal["check", "program", "judge", "analogy", "scored", "later"]
ProfileName = Literal["general", "embedded"]
EMBEDDED_MODEL = "embedded"  # the model string (and the prefix of the model name) of the embedded default


class Profile(BaseModel):
    """How the team weighs candidates, samples and prompts for one kind of model (`xolver.team.decision`
    applies the vote; `why` gives the measurement behind every setting that differs from `general`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ProfileName
    temperature: float = Field(description="the solvers' sampling temperature")
    judge_weight: float = Field(description="the judge's score, times this, is added to a non-code answer's vote")
    distinct_programs: bool = Field(description="the same program written by several agents is one vote")
    copy_weight: float = Field(
        description="the vote of a later round's answer: its agent was shown the team's answers (the shared memory, "
        "its own last attempt), so it is no independent sample, whatever it answers"
    )
    analogy_weight: float = Field(
        description="the vote of an analogy (a retrieved solved program rebound to the problem): memory's candidate, "
        "not a sample of the model, right as often as the retrieved program fits the problem"
    )
    tie_break: tuple[TieBreak, ...] = Field(description="what decides between answers with equal votes, in order")
    exemplar_turns: bool = Field(
        description="math exemplars with a program are shown as earlier turns of the conversation (problem asked, "
        "program answered), and the problem asked as theirs were; else quoted in the prompt"
    )
    reasoning: bool | None = Field(
        description="whether the model thinks before it answers; None: told from its name and its replies"
    )
    logprobs: bool = Field(description="ask for log-probabilities on general problems (self-certainty)")
    why: dict[str, str] = Field(default_factory=dict, description="each setting that differs from general: why")


GENERAL = Profile(
    name="general",
    temperature=0.7,
    judge_weight=0.0,
    distinct_programs=False,
    copy_weight=0.5,
    analogy_weight=1.0,
    tie_break=("check", "program"),
    exemplar_turns=False,
    reasoning=None,
    logprobs=False,
)

EMBEDDED = GENERAL.model_copy(
    update={
        "name": "embedded",
        "temperature": 0.0,
        "distinct_programs": True,
        "tie_break": ("analogy", "scored", "later"),
        "exemplar_turns": True,
        "reasoning": False,
        "logprobs": True,
        "why": {
            "temperature": "greedy: with a solved sibling program as an earlier turn, right programs on the 36 later "
            "family problems (dev set): 5 greedy, 2-4 at 0.3, 1 at 0.7",
            "distinct_programs": "greedy agents on near-identical prompts write one program several times: one "
            "piece of evidence. The dev family run (recorded 20/48) replayed with this code "
            "(tools/bench_profile.py): 21/48 right, 13/48 counting each copy",
            "tie_break": "on a tied vote a program rebound from a verified solve ranks first, and the judge breaks "
            "no tie (its scores ran against the truth: 7 of 240 candidates scored >= 0.8 right, 13 of 44 scored "
            "lower). The dev family run replayed: 21/48 right, 15/48 with general's order (check, program); "
            "10/48 with every deciding setting general's",
            "exemplar_turns": "a program in 41 of 48 first replies with exemplar turns, 3 of 48 with quoted "
            "exemplars (dev family set, seed 7)",
            "reasoning": "it never thinks; a reply cut at its limit is rambling, retried once at twice the limit, "
            "never at a thinker's 16k tokens (50 tokens/s on 2 cores)",
            "logprobs": "its llama.cpp server gives log-probabilities (3.4x slower), asked on general problems only",
        },
    }
)

PROFILES: dict[ProfileName, Profile] = {"general": GENERAL, "embedded": EMBEDDED}


def profile_for(name: ProfileName | Literal["auto"], model: str) -> Profile:
    """The named profile, or for `auto` the profile of `model` (a model string or a served model's name)."""
    if name != "auto":
        return PROFILES[name]
    return EMBEDDED if model.split("/")[0] == EMBEDDED_MODEL else GENERAL


__all__ = ["EMBEDDED", "EMBEDDED_MODEL", "GENERAL", "PROFILES", "Profile", "ProfileName", "TieBreak", "profile_for"]
