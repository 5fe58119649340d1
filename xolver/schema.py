"""The records that flow between layers: problems, roles, candidates, judgements, experiences, results.

Every record is a pydantic model that round-trips through JSON; unions carry a `kind` discriminator.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator, model_validator

from xolver.profiles import EMBEDDED_MODEL, GENERAL, Profile, ProfileName, profile_for

TaskKind = Literal["math", "code", "general"]
AgentRole = Literal["planner", "solver", "coder", "judge", "verifier"]
StopReason = Literal["converged", "stable", "max_iterations", "deadline", "budget"]
MethodName = Literal["xolver", "direct", "cot", "sc", "self-refine", "self-reflection", "cheatsheet"]
MemoryMode = Literal["off", "read-only", "learn"]
SandboxBackend = Literal["auto", "docker", "process", "none"]
RetrievalMode = Literal["hybrid", "dense", "bm25", "none"]
Routing = Literal["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"]
SOLVER_TEMPERATURE = GENERAL.temperature  # the temperature of calls that must sample (self-consistency's)
TokenTask = Literal["plan", "select", "solve", "code", "judge", "extract", "check", "tests", "recall", "strategy"]
# Completion tokens per call, by what the call is for. A reasoning model thinks first, often for thousands of
# tokens, so its calls get budgets it can finish in; a reply cut short is retried once with more, then fails.
STANDARD_TOKENS: dict[TokenTask, int] = {
    "plan": 200, "select": 40, "solve": 512, "code": 768, "judge": 256, "extract": 64, "check": 384,
    "tests": 768, "recall": 384, "strategy": 160,
}  # fmt: skip
REASONING_TOKENS: dict[TokenTask, int] = {
    "plan": 4096, "select": 2048, "solve": 16384, "code": 16384, "judge": 8192, "extract": 4096, "check": 8192,
    "tests": 8192, "recall": 8192, "strategy": 4096,
}  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def problem_hash(text: str) -> str:
    """A short fingerprint of a problem's text (case and spacing ignored), to know a problem when it recurs."""
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:16]


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
    """A problem to solve. `answer`, hidden tests, `test_code` and `metadata` are references for grading:
    the team and every baseline see only `public_view()`."""

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

    def public_view(self) -> Problem:
        """What a method may see: no reference answer, no hidden tests, no grading code, no metadata
        (which may hold a reference solution)."""
        return self.model_copy(
            update={"answer": None, "test_code": None, "tests": [t for t in self.tests if not t.hidden], "metadata": {}}
        )


class Role(Record):
    """One member of the team, as the planner described it (or a fallback when its reply was unusable)."""

    name: str
    focus: str = ""
    source: Literal["planner", "fallback"] = "planner"


class Usage(Record):
    """Model usage, added up over calls. `seconds` is time spent inside model calls; `reasoning_tokens`
    are the part of `completion_tokens` a model spent thinking; `truncated` counts replies cut at their
    token limit (each was retried once with a larger limit where allowed, and never parsed)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    retries: int = 0
    failed_calls: int = 0
    truncated: int = 0
    rejected: int = Field(0, description="times the server turned a call away for load (429, 503); each was sent again")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class LimitState(Record):
    """A model endpoint's concurrency limit at one moment: what the progress line shows and a run records."""

    endpoint: str
    kind: Literal["fixed", "adaptive"]
    limit: int
    in_flight: int
    rejections: int = Field(0, description="calls the server turned away for load (429, 503) so far")
    cuts: int = Field(0, description="times an overload cut the adaptive limit")


class ChatMessage(Record):
    role: Literal["system", "user", "assistant"]
    content: str


class ModelCall(Record):
    """One model call as it was sent and answered: the trace of a solve, and what a replay replays.

    `text` is the final text (what agents parse); `reasoning` is the model's thinking, kept apart.
    """

    role: AgentRole
    model: str
    messages: list[ChatMessage]
    temperature: float | None
    max_tokens: int
    seed: int | None = None
    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    started_at: datetime | None = Field(None, description="when the call was sent (wall clock, UTC)")
    error: str | None = None


class ExecResult(Record):
    """What a sandboxed run did. `exit_code` is None when the run was killed before it exited on its own."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int | None
    timed_out: bool = False
    oom_killed: bool = False
    output_truncated: bool = False
    duration: float = 0.0
    backend: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed


class SandboxRun(Record):
    """One program run in the sandbox during a solve (a tool call, a test), as asked and as it ended:
    the trace of the solve's code, and what a replay answers code runs from."""

    code: str
    stdin: str | None = None
    files: dict[str, str] = Field(default_factory=dict)
    timeout: float
    result: ExecResult
    started_at: datetime


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
    certainty: float | None = Field(None, description="mean token probability of the reply, given logprobs")
    error: str | None = None
    cut: bool = Field(False, description="the reply was cut at its token limit, also after a larger retry")
    copied: str | None = Field(
        None, description="the example problem whose numbers its program computes with, more than with this one's"
    )
    saw: list[str] = Field(
        default_factory=list, description="the answers its agent was shown before it answered (the shared memory, its "
        "own last attempt): agreeing with one of them is not an independent vote",
    )
    judgement: Judgement | None = None

    @property
    def score(self) -> float | None:
        return self.judgement.score if self.judgement else None


ExperienceKind = Literal["solution", "strategy", "code_fragment"]


ExperienceSource = Literal["seed", "self", "external"]  # a seed bank, the team's own solves, an import


class Experience(Record):
    """One entry of experience memory: a solved problem, a strategy, or a verified code fragment."""

    id: str = Field(default_factory=new_id)
    kind: ExperienceKind
    problem: str
    content: str
    task_kind: TaskKind = "math"
    source: ExperienceSource = "self"
    verified: bool = False
    score: float = 0.0
    uses: int = 0
    successes: int = 0
    created_at: datetime = Field(default_factory=_now)
    links: list[str] = Field(default_factory=list)
    provenance: dict[str, str] = Field(default_factory=dict)
    confidence: float = Field(0.5, ge=0.0, le=1.0, description="how strong the evidence behind it was")
    evidence: list[str] = Field(default_factory=list, description="the checks it passed")
    applies: str = Field("", description="when this applies: the situation, in general terms")

    @property
    def trusted(self) -> bool:
        """Retrieved by default: a seed or imported corpus, or what this team wrote and verified."""
        return self.source != "self" or self.verified


EvidenceKind = Literal[
    "tests", "unseen_tests", "own_program", "independent_check", "judge", "agreement", "self_certainty"
]


class Evidence(Record):
    """One check of a final answer. `passed` is None when the check could not be made (no sandbox, no
    program, no logprobs); `value` is its strength where it has one (a score, a share, a probability)."""

    kind: EvidenceKind
    passed: bool | None
    value: float | None = None
    detail: str = ""
    program: str | None = Field(None, description="the program a check ran, where it ran one (the independent check)")


class Verification(Record):
    """How the final answer was checked: every piece of evidence, the rule that weighed it, the verdict.

    `method` names what the verdict rests on: `tests` (code: the visible tests and tests written after the
    solve), `tools` (an independent computation in the sandbox agreed), `judge` (a judge model and agreement
    only), `none` (nothing to verify, or the deadline came first).
    """

    method: Literal["tests", "tools", "judge", "none"]
    passed: bool
    detail: str = ""
    rule: Literal["evidence", "judge", "calibrated"] = "evidence"
    evidence: list[Evidence] = Field(default_factory=list)
    confidence: float = Field(0.0, ge=0.0, le=1.0)


class IterationRecord(Record):
    """One round of the loop: every candidate with its judgement, and what the shared memory kept."""

    index: int
    candidates: list[Candidate]
    kept: list[str] = Field(default_factory=list, description="ids of the candidates in shared memory")
    best_answer: str | None = None
    best_score: float | None = None


ADAPTIVE_CEILING = 1024
FIXED_LIMIT = 16


class Endpoint(Record):
    """One replica behind litellm's Router, e.g. one of several vLLM servers serving the same model."""

    model: str = Field(description="litellm model string, e.g. openai/Qwen2.5-7B-Instruct")
    api_base: str | None = None
    api_key: SecretStr | None = None
    weight: int = Field(1, ge=1, description="share of requests, relative to the other endpoints")


class Settings(Record):
    """Everything a run can be configured with, as plain data. `XolverConfig` reads these fields from
    xolver.toml and `XOLVER_*`; results record them (in `RunConfig`), secrets masked."""

    model: str = Field(EMBEDDED_MODEL, description="litellm model string for every role, or 'embedded'")
    models: dict[AgentRole, str] = Field(default_factory=dict, description="per-role model overrides")
    api_base: str | None = Field(None, description="base URL of an OpenAI-compatible server")
    api_key: SecretStr | None = Field(None, description="API key passed to litellm (else litellm's env vars)")
    endpoints: list[Endpoint] = Field(
        default_factory=list, description="replicas of the model behind litellm's Router (replaces model/api_base)"
    )
    routing: Routing = Field("simple-shuffle", description="how the Router spreads requests over the endpoints")
    agents: int = Field(3, ge=1, le=32, description="m: solver agents per iteration")
    iterations: int = Field(2, ge=1, le=20, description="I: maximum iterations")
    exemplars: int = Field(3, ge=0, le=50, description="k: exemplars retrieved from experience memory")
    retrieval: RetrievalMode = Field("hybrid", description="how exemplars are found")
    memory: MemoryMode = Field(
        "learn",
        description="experience memory: off; read-only (a fixed corpus: retrieve, never write); learn (retrieve "
        "and write what verified solves taught)",
    )
    memory_dir: Path | None = Field(None, description="embedded store directory (default: the user data dir)")
    seed_bank: str = Field(
        "default",
        description="experiences imported into a new, empty store: default (the starter bank), none, or a JSONL path",
    )
    chroma_url: str | None = Field(None, description="a Chroma server to share memory, e.g. http://HOST:8000")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="packaged model name or a local directory")
    sandbox: SandboxBackend = Field(
        "auto", description="where agents' code runs: auto picks Docker when its engine answers, else processes"
    )
    sandbox_timeout: float = Field(10.0, gt=0, description="seconds per program run")
    sandbox_concurrency: int = Field(4, ge=1, description="programs running at once in the sandbox, over all solves")
    min_similarity: float = Field(
        0.1, ge=-1.0, le=1.0, description="mean view similarity an exemplar needs (tools/bench_retrieval.py)"
    )
    recall: bool = Field(True, description="when memory has nothing relevant, the model recalls a similar problem")
    profile: ProfileName | Literal["auto"] = Field(
        "auto", description="how candidates are weighed and prompts laid out (xolver.profiles): general, embedded "
        "(SmolLM2-135M's measured settings), or auto: the embedded profile for the embedded model, else general",
    )
    judge_weight: float | None = Field(
        None, ge=0, description="the judge's score times this joins a non-code answer's vote; unset: the profile's (0)"
    )
    analogy: bool = Field(
        True, description="math: a retrieved solved program, rebound to the problem's numbers, is one more candidate"
    )
    samples: int = Field(5, ge=1, le=256, description="k: samples drawn by the self-consistency baseline")
    cheatsheet_file: Path | None = Field(None, description="where the cheatsheet baseline keeps its sheet between runs")
    budget: int | None = Field(
        None, ge=1, description="tokens per problem: no new round or sample starts once a problem has spent it"
    )
    patience: int = Field(2, ge=1, description="stop when the top answer is unchanged this many rounds")
    verify_rule: Literal["evidence", "judge"] = Field(
        "evidence",
        description="evidence: a tool must confirm the answer (tests, or an independent computation in the sandbox); "
        "judge: a judge score and agreement suffice (weaker; for runs without a sandbox)",
    )
    verify_requires: dict[TaskKind, list[EvidenceKind]] = Field(
        default_factory=dict, description="a calibrated rule per kind of problem (`xolver calibrate`): the evidence "
        "kinds that must pass; it replaces verify_rule for that kind",
    )
    verify_precision: dict[TaskKind, float] = Field(
        default_factory=dict, description="the precision each calibrated rule measured, carried by what it writes"
    )
    verify_threshold: float = Field(0.8, ge=0.0, le=1.0, description="judge score a final answer needs")
    verify_agreement: int = Field(
        2, ge=1, description="kept candidates that must give the final answer (at most m) for a judge verification"
    )
    unseen_tests: int = Field(
        5, ge=0, le=50, description="tests the judge writes after a code solve, which the program must also pass"
    )
    logprobs: bool | None = Field(
        None, description="ask solvers' servers for log-probabilities (self-certainty); None: as the profile says "
        "(embedded: on general problems, the only kind whose rule weighs certainty)",
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="sampling temperature of the solvers; unset: the profile's (general 0.7, "
        "embedded 0: greedy)",
    )
    control_temperature: float = Field(
        0.2, ge=0.0, le=2.0, description="temperature of the planner, judge and verifier, whose replies follow a format"
    )
    max_tokens: int | None = Field(
        None, ge=16, description="completion tokens per solver and coder call (default: by the model, see token_limits)"
    )
    token_limits: dict[TokenTask, int] = Field(
        default_factory=dict, description="completion tokens per kind of call, over the model's defaults"
    )
    reasoning: bool | None = Field(
        None, description="the models think before they answer; unset: the profile's (embedded: no), else told "
        "from the model (its name, litellm's model information, or its replies)",
    )
    params: dict[AgentRole, dict[str, Any]] = Field(
        default_factory=dict, description="provider parameters per role, passed to litellm (e.g. reasoning_effort)"
    )
    seed: int | None = Field(None, description="base seed; each agent and turn derives its own")
    timeout: float = Field(120.0, gt=0, description="seconds per model call attempt")
    retries: int = Field(3, ge=0, le=10, description="retries per model call on timeout, 429, 5xx")
    retry_delay: float = Field(0.5, ge=0, description="first retry backoff in seconds; doubles each retry")
    concurrency_limit: Literal["adaptive", "fixed"] = Field(
        "adaptive", description="model calls in flight per endpoint: a limit that finds the server's capacity, or "
        "max_concurrency exactly",
    )
    max_concurrency: int | None = Field(
        None, ge=1, description="the most model calls in flight per endpoint, over all problems and teams of the "
        f"process: the adaptive limit's ceiling (default {ADAPTIVE_CEILING}), or the fixed limit (default "
        f"{FIXED_LIMIT})",
    )
    initial_concurrency: int = Field(16, ge=1, description="where the adaptive limit starts")
    solve_deadline: float | None = Field(
        None, gt=0, description="seconds for one whole solve, from retrieval to learning"
    )
    embedded_threads: int | None = Field(None, ge=1, description="CPU threads for the embedded model")
    embedded_ctx: int = Field(4096, ge=512, description="context window of the embedded model")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_switch(cls, value: object) -> object:
        """`memory = true/false` (and XOLVER_MEMORY=false) still mean learn/off."""
        switches = {"true": "learn", "1": "learn", "yes": "learn", "on": "learn", "false": "off", "0": "off"}
        switches["no"] = "off"
        if isinstance(value, bool):
            return "learn" if value else "off"
        return switches.get(value.lower(), value) if isinstance(value, str) else value

    def memory_path(self) -> Path:
        if self.memory_dir is not None:
            return self.memory_dir.expanduser()
        from platformdirs import user_data_dir

        return Path(user_data_dir("xolver")) / "memory"

    def call_limit(self) -> int:
        """The fixed limit, or the adaptive limit's ceiling."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return ADAPTIVE_CEILING if self.concurrency_limit == "adaptive" else FIXED_LIMIT

    def profile_for(self, model: str) -> Profile:
        """The profile of a role served by `model`: the configured one, else by the model (`xolver.profiles`)."""
        return profile_for(self.profile, model)

    def solver_temperature(self, model: str) -> float:
        """The configured temperature, else the profile's for `model` (the model serving the call)."""
        return self.profile_for(model).temperature if self.temperature is None else self.temperature

    def vote_judge_weight(self, model: str) -> float:
        """The configured judge weight, else the profile's for `model` (the judge's model)."""
        return self.profile_for(model).judge_weight if self.judge_weight is None else self.judge_weight

    @property
    def sampling_temperature(self) -> float:
        """The temperature of calls that must sample, whichever model serves them (self-consistency's)."""
        return SOLVER_TEMPERATURE if self.temperature is None else self.temperature

    def model_for(self, role: AgentRole) -> str:
        return self.models.get(role, self.model)

    def tokens(self, task: TokenTask, *, reasoning: bool) -> int:
        """Completion tokens for a call of `task`: configured, else the profile of a (non-)reasoning model."""
        if task in self.token_limits:
            return self.token_limits[task]
        if task in ("solve", "code") and self.max_tokens is not None:
            return self.max_tokens
        return (REASONING_TOKENS if reasoning else STANDARD_TOKENS)[task]

    def wants_logprobs(self, role: AgentRole, task: TaskKind) -> bool:
        """Whether `role`'s calls on a `task` problem ask for log-probabilities: as configured, else as the profile
        says (the embedded model's server is known to give them; a server that does not may refuse the request),
        and only for general problems, the one kind whose verification rule weighs certainty."""
        if self.logprobs is not None:
            return self.logprobs
        return task == "general" and self.profile_for(self.model_for(role)).logprobs

    def changed(self, **changes: Any) -> Any:
        """A validated copy of the same class with `changes` applied (`model_copy` skips validation)."""
        values = {name: getattr(self, name) for name in Settings.model_fields}
        return type(self).model_validate({**values, **changes})

    def run_config(self, models: dict[str, str], method: MethodName = "xolver") -> RunConfig:
        """The snapshot recorded with every result; `models` are the names of the models actually used."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            xolver_version = version("xolver")
        except PackageNotFoundError:
            xolver_version = "0+unknown"
        values = {name: getattr(self, name) for name in Settings.model_fields}
        profiles = {role: self.profile_for(name).name for role, name in models.items()}
        return RunConfig(method=method, settings=Settings(**values), models=models, profiles=profiles,
                         xolver_version=xolver_version)  # fmt: skip


def choices(field: str) -> list[str]:
    """The values a `Literal` setting allows: command-line choices derived from the schema."""
    return [str(value) for value in get_args(Settings.model_fields[field].annotation)]


class RunConfig(Record):
    """What a run was configured with, recorded beside its results so numbers can be reproduced."""

    method: MethodName = "xolver"
    settings: Settings
    models: dict[str, str] = Field(description="the model each role actually used")
    profiles: dict[str, ProfileName] = Field(default_factory=dict, description="the profile each role ran with")
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
    calls: list[ModelCall] = Field(default_factory=list, description="every model call, in the order they ended")
    runs: list[SandboxRun] = Field(default_factory=list, description="every sandbox run, in the order they ended")
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
