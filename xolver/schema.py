"""The records that flow between layers: problems, roles, candidates, judgements, experiences, results.

Every record is a pydantic model that round-trips through JSON; unions carry a `kind` discriminator.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

TaskKind = Literal["math", "code", "general"]
AgentRole = Literal["planner", "solver", "coder", "judge", "verifier"]
StopReason = Literal["converged", "stable", "max_iterations", "deadline", "budget"]
MethodName = Literal["xolver", "direct", "cot", "sc", "self-refine"]


def _now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Record(BaseModel):
    """Base of every record: unknown keys are errors, so a typo in a file never passes silently."""

    model_config = ConfigDict(extra="forbid")


class TestCase(Record):
    """One test: stdin/stdout style (`input`/`output`) or call style (`call`/`expected`)."""

    __test__ = False  # not a pytest class

    input: str | None = None
    output: str | None = None
    call: str | None = None
    expected: str | None = None
    hidden: bool = Field(False, description="for grading only: a benchmark run never shows it to the team")

    @model_validator(mode="after")
    def _one_style(self) -> TestCase:
        if self.output is None and self.expected is None:
            raise ValueError("a test case needs `output` (stdin style) or `expected` (call style)")
        return self


class Problem(Record):
    """A problem to solve. `answer` and `tests` are references for grading, never shown to the team."""

    id: str = ""
    text: str = Field(min_length=1)
    kind: TaskKind = "math"
    answer: str | None = None
    tests: list[TestCase] = Field(default_factory=list)
    entry_point: str | None = None
    test_code: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_id(self) -> Problem:
        if not self.text.strip():
            raise ValueError("problem text is empty")
        if not self.id:
            self.id = "p-" + hashlib.sha256(self.text.encode()).hexdigest()[:10]
        return self


class Role(Record):
    """One member of the team, as the planner described it (or a fallback when its reply was unusable)."""

    name: str
    focus: str = ""
    source: Literal["planner", "fallback"] = "planner"


class Usage(Record):
    """Model usage, added up over calls. `seconds` is time spent inside model calls."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    retries: int = 0
    failed_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ToolCall(Record):
    """One tool invocation by an agent, with what came back."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    output: str = ""
    ok: bool = True


class Judgement(Record):
    """A judge's verdict on one candidate.

    `status` keeps a judge that could not judge apart from a low score: only `scored` carries a score.
    """

    candidate_id: str
    status: Literal["scored", "unparsed", "failed"]
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    judge: Literal["tests", "llm", "tool", "rule"] = "llm"
    rationale: str = ""
    passed: int | None = None
    total: int | None = None
    attempts: int = 1
    error: str | None = None

    @model_validator(mode="after")
    def _score_iff_scored(self) -> Judgement:
        if (self.status == "scored") != (self.score is not None):
            raise ValueError("a judgement has a score exactly when its status is 'scored'")
        return self


class Candidate(Record):
    """One agent's attempt in one iteration."""

    id: str = Field(default_factory=new_id)
    role: str
    agent: int
    iteration: int
    reasoning: str = ""
    answer: str | None = None
    code: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None
    judgement: Judgement | None = None

    @property
    def score(self) -> float | None:
        return self.judgement.score if self.judgement else None


class Experience(Record):
    """One entry of experience memory: a solved problem, a strategy, or a verified code fragment."""

    id: str = Field(default_factory=new_id)
    kind: Literal["solution", "strategy", "code_fragment"]
    problem: str
    content: str
    task_kind: TaskKind = "math"
    source: Literal["seed", "self", "external"] = "self"
    verified: bool = False
    score: float = 0.0
    uses: int = 0
    successes: int = 0
    created_at: datetime = Field(default_factory=_now)
    links: list[str] = Field(default_factory=list)
    provenance: dict[str, str] = Field(default_factory=dict)


class Verification(Record):
    """How the final answer was checked, and whether the check passed."""

    method: Literal["tests", "judge", "none"]
    passed: bool
    detail: str = ""


class IterationRecord(Record):
    """One round of the loop: every candidate with its judgement, and what the shared memory kept."""

    index: int
    candidates: list[Candidate]
    kept: list[str] = Field(default_factory=list, description="ids of the candidates in shared memory")
    best_answer: str | None = None
    best_score: float | None = None


class RunConfig(Record):
    """What a run was configured with, recorded beside its results so numbers can be reproduced."""

    method: MethodName = "xolver"
    agents: int
    iterations: int
    exemplars: int
    samples: int = 1
    budget: int | None = None
    retrieval: str
    memory: str | None = None
    embedding_model: str | None = None
    recall: bool = False
    sandbox: str | None = None
    models: dict[str, str]
    api_base: str | None = None
    endpoints: list[str] = Field(default_factory=list)
    temperature: float
    control_temperature: float
    max_tokens: int
    seed: int | None
    patience: int
    verify_threshold: float = 0.8
    verify_agreement: int = 2
    xolver_version: str


class SolveResult(Record):
    """Everything a solve produced and cost."""

    run_id: str
    problem: Problem
    answer: str | None
    code: str | None = None
    verified: bool
    verification: Verification
    roles: list[Role]
    iterations: list[IterationRecord]
    stop_reason: StopReason
    exemplars: list[Experience] = Field(default_factory=list)
    memory_writes: list[str] = Field(default_factory=list)
    judge_failures: int = 0
    usage: Usage
    wall_seconds: float
    started_at: datetime = Field(default_factory=_now)
    config: RunConfig


# Trace events: streamed to callbacks while a solve runs (the CLI's live view, logs, progress bars).


class _Event(Record):
    problem_id: str
    at: datetime = Field(default_factory=_now)


class PlanReady(_Event):
    kind: Literal["plan_ready"] = "plan_ready"
    roles: list[Role]
    exemplars: int = 0


class AgentStarted(_Event):
    kind: Literal["agent_started"] = "agent_started"
    role: str
    agent: int
    iteration: int


class CandidateReady(_Event):
    kind: Literal["candidate_ready"] = "candidate_ready"
    candidate: Candidate


class Judged(_Event):
    kind: Literal["judged"] = "judged"
    judgement: Judgement
    role: str


class IterationDone(_Event):
    kind: Literal["iteration_done"] = "iteration_done"
    index: int
    best_answer: str | None
    best_score: float | None


class Verified(_Event):
    kind: Literal["verified"] = "verified"
    answer: str | None
    verification: Verification


class MemoryWritten(_Event):
    kind: Literal["memory_written"] = "memory_written"
    ids: list[str]


TraceEvent = Annotated[
    PlanReady | AgentStarted | CandidateReady | Judged | IterationDone | Verified | MemoryWritten,
    Field(discriminator="kind"),
]
TRACE_EVENT = TypeAdapter(TraceEvent)
