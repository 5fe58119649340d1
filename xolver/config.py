"""One settings object for a run: defaults < xolver.toml < XOLVER_* environment < explicit arguments."""

from __future__ import annotations

import os
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from xolver.errors import ConfigError
from xolver.schema import AgentRole, MethodName, Record, RunConfig

EMBEDDED_MODEL = "embedded"

_toml_path: ContextVar[Path | None] = ContextVar("xolver_toml_path", default=None)


class Endpoint(Record):
    """One replica behind litellm's Router, e.g. one of several vLLM servers serving the same model."""

    model: str = Field(description="litellm model string, e.g. openai/Qwen2.5-7B-Instruct")
    api_base: str | None = None
    api_key: str | None = None
    weight: int = Field(1, ge=1, description="share of requests, relative to the other endpoints")


class XolverConfig(BaseSettings):
    """Everything a run can be configured with. `xolver config show` prints the effective values."""

    model_config = SettingsConfigDict(env_prefix="XOLVER_", env_nested_delimiter="__", extra="forbid")

    model: str = Field(EMBEDDED_MODEL, description="litellm model string for every role, or 'embedded'")
    models: dict[AgentRole, str] = Field(default_factory=dict, description="per-role model overrides")
    api_base: str | None = Field(None, description="base URL of an OpenAI-compatible server")
    api_key: str | None = Field(None, description="API key passed to litellm (else litellm's env vars)")
    endpoints: list[Endpoint] = Field(
        default_factory=list, description="replicas of the model behind litellm's Router (replaces model/api_base)"
    )
    routing: Literal["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"] = Field(
        "simple-shuffle", description="how the Router spreads requests over the endpoints"
    )
    agents: int = Field(3, ge=1, le=32, description="m: solver agents per iteration")
    iterations: int = Field(2, ge=1, le=20, description="I: maximum iterations")
    exemplars: int = Field(3, ge=0, le=50, description="k: exemplars retrieved from experience memory")
    retrieval: Literal["hybrid", "dense", "bm25", "none"] = "hybrid"
    memory: bool = Field(True, description="use the persistent experience memory")
    memory_dir: Path | None = Field(None, description="embedded store directory (default: the user data dir)")
    chroma_url: str | None = Field(None, description="a Chroma server to share memory, e.g. http://HOST:8000")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="packaged model name or a local directory")
    sandbox: Literal["auto", "docker", "process", "none"] = Field(
        "auto", description="where agents' code runs: auto picks Docker when its engine answers, else processes"
    )
    sandbox_timeout: float = Field(10.0, gt=0, description="seconds per program run")
    min_similarity: float = Field(0.3, ge=-1.0, le=1.0, description="cosine similarity an exemplar needs")
    recall: bool = Field(True, description="when memory has nothing relevant, the model recalls a similar problem")
    samples: int = Field(5, ge=1, le=256, description="k: samples drawn by the self-consistency baseline")
    budget: int | None = Field(
        None, ge=1, description="tokens per problem: no new round or sample starts once a problem has spent it"
    )
    patience: int = Field(2, ge=1, description="stop when the top answer is unchanged this many rounds")
    verify_threshold: float = Field(0.8, ge=0.0, le=1.0, description="judge score a final answer needs")
    verify_agreement: int = Field(
        2, ge=1, description="kept candidates that must give the final answer (at most m) for a judge verification"
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="sampling temperature of the solvers")
    control_temperature: float = Field(
        0.2, ge=0.0, le=2.0, description="temperature of the planner, judge and verifier, whose replies follow a format"
    )
    max_tokens: int = Field(512, ge=16, description="completion tokens per solver call")
    seed: int | None = None
    timeout: float = Field(120.0, gt=0, description="seconds per model call attempt")
    retries: int = Field(3, ge=0, le=10, description="retries per model call on timeout, 429, 5xx")
    retry_delay: float = Field(0.5, ge=0, description="first retry backoff in seconds; doubles each retry")
    max_concurrency: int = Field(16, ge=1, description="model calls in flight at once, over all problems")
    solve_deadline: float | None = Field(None, gt=0, description="seconds for one whole solve")
    embedded_threads: int | None = Field(None, ge=1, description="CPU threads for the embedded model")
    embedded_ctx: int = Field(4096, ge=512, description="context window of the embedded model")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _toml_path.get() or Path(os.environ.get("XOLVER_CONFIG_FILE", "xolver.toml"))
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml)

    def memory_path(self) -> Path:
        if self.memory_dir is not None:
            return self.memory_dir.expanduser()
        from platformdirs import user_data_dir

        return Path(user_data_dir("xolver")) / "memory"

    def model_for(self, role: AgentRole) -> str:
        return self.models.get(role, self.model)

    def run_config(self, models: dict[str, str], method: MethodName = "xolver") -> RunConfig:
        """The snapshot recorded with every result; `models` are the names of the models actually used."""
        return RunConfig(
            method=method,
            samples=self.samples if method == "sc" else 1,
            budget=self.budget,
            endpoints=[e.api_base or e.model for e in self.endpoints],
            agents=self.agents,
            iterations=self.iterations,
            exemplars=self.exemplars,
            retrieval=self.retrieval if self.memory or self.recall else "none",
            memory=self.chroma_url or (str(self.memory_path()) if self.memory else None),
            embedding_model=self.embedding_model,
            recall=self.recall,
            sandbox=self.sandbox,
            models=models,
            api_base=self.api_base,
            temperature=self.temperature,
            control_temperature=self.control_temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            patience=self.patience,
            verify_threshold=self.verify_threshold,
            verify_agreement=self.verify_agreement,
            xolver_version=xolver_version(),
        )


def load_config(path: str | Path | None = None, **overrides: Any) -> XolverConfig:
    """Build the effective configuration; `overrides` (e.g. CLI flags) win over every other source.

    `None` overrides are dropped so an unset CLI flag never hides a value from the file or environment.
    """
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"config file not found: {path}")
    token = _toml_path.set(Path(path) if path is not None else None)
    try:
        return XolverConfig(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"invalid configuration: {where}: {first['msg']}") from exc
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file
        raise ConfigError(f"cannot read configuration: {exc}") from exc
    finally:
        _toml_path.reset(token)


def xolver_version() -> str:
    try:
        return version("xolver")
    except PackageNotFoundError:
        return "0+unknown"
