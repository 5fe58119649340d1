"""`ModelClient`: what the team calls. A model per agent role, each wrapped once in the standard stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from xolver.llm.base import Message, Model, ModelRequest, ModelResponse
from xolver.llm.embedded import EmbeddedModel
from xolver.llm.limits import ConcurrencyLimit, new_limit, shared_limit
from xolver.llm.litellm_model import LiteLLMModel, RouterModel, secret
from xolver.llm.reasoning import thinks
from xolver.llm.wrappers import DeadlineModel, LimitedModel, MeteredModel, RetryingModel, TruncationModel
from xolver.profiles import ProfileName, profile_for
from xolver.schema import EMBEDDED_MODEL, AgentRole, Settings

ROLES: tuple[AgentRole, ...] = get_args(AgentRole)


def wrap(
    model: Model, *, timeout: float, retries: int, limit: ConcurrencyLimit, retry_base_delay: float = 0.5
) -> Model:
    """The standard stack: a cut reply's one larger retry outside, then metering (so both attempts are
    counted and recorded), then retry of failures, then the concurrency limit, then the deadline.

    The limit sits inside the retry so a call waiting out its backoff holds no slot, and outside the
    deadline so it sees timeouts.
    """
    limited = LimitedModel(DeadlineModel(model, timeout), limit, base_delay=retry_base_delay)
    return TruncationModel(MeteredModel(RetryingModel(limited, retries, base_delay=retry_base_delay)))


def endpoint(model: Model) -> str | None:
    """What a model's calls land on, for sharing one limit between clients: None for a model of the caller's
    whose server we cannot name (a scripted model), which then gets a limit of its own."""
    if isinstance(model, RouterModel):
        return model.name + " via " + ", ".join(f"{e.model}@{e.api_base or 'default'}" for e in model.endpoints)
    if isinstance(model, LiteLLMModel):
        return f"{model.name}@{model.api_base or 'default'}"
    return model.name if isinstance(model, EmbeddedModel) else None


class ModelClient:
    """The model calls of one runtime, shared by all its concurrent solves.

    With `owned`, `aclose()` closes the models too (those it built from a configuration); models passed
    in by a caller stay the caller's.
    """

    def __init__(
        self,
        models: Model | Mapping[AgentRole, Model],
        *,
        timeout: float = 120.0,
        retries: int = 3,
        max_concurrency: int = 16,
        concurrency_limit: Literal["adaptive", "fixed"] = "fixed",
        initial_concurrency: int = 16,
        retry_base_delay: float = 0.5,
        owned: bool = False,
        reasoning: bool | None = None,
        profile: ProfileName | Literal["auto"] = "auto",
        params: Mapping[AgentRole, dict[str, Any]] | None = None,
    ) -> None:
        by_role = {role: models for role in ROLES} if isinstance(models, Model) else dict(models)
        missing = [role for role in ROLES if role not in by_role]
        if missing:
            raise ValueError(f"no model for roles: {', '.join(missing)}")
        # Roles sharing one model object share one wrapper; clients calling one endpoint share its limit.
        adaptive = concurrency_limit == "adaptive"
        policy = {"adaptive": adaptive, "maximum": max_concurrency, "initial": initial_concurrency}
        wrapped: dict[int, Model] = {}
        self.limits: list[ConcurrencyLimit] = []
        for model in by_role.values():
            if id(model) not in wrapped:
                name = endpoint(model)
                limit = shared_limit(name, **policy) if name is not None else new_limit(model.name, **policy)
                self.limits.append(limit)
                wrapped[id(model)] = wrap(
                    model, timeout=timeout, retries=retries, limit=limit, retry_base_delay=retry_base_delay
                )
        self._models = {role: wrapped[id(model)] for role, model in by_role.items()}
        self._owned = list(wrapped.values()) if owned else []
        self.reasoning = reasoning
        self.profile = profile
        self.params = dict(params or {})
        self._seen: dict[str, bool] = {}  # model name -> whether its replies think (a complete one, or any thought)
        self._named: dict[str, bool] = {}  # model name -> whether its name or litellm says it thinks

    @classmethod
    def from_config(cls, config: Settings, models: Model | Mapping[AgentRole, Model] | None = None) -> ModelClient:
        """A client with the configured timeouts and limits, over `models` (the caller's) or the configured
        model strings (built here, and closed by `aclose`)."""
        return cls(
            models if models is not None else _configured_models(config),
            timeout=config.timeout,
            retries=config.retries,
            max_concurrency=config.call_limit(),
            concurrency_limit=config.concurrency_limit,
            initial_concurrency=config.initial_concurrency,
            retry_base_delay=config.retry_delay,
            owned=models is None,
            reasoning=config.reasoning,
            profile=config.profile,
            params=config.params,
        )

    async def aclose(self) -> None:
        """Close the models this client built; a second call does nothing."""
        owned, self._owned = self._owned, []
        for model in reversed(owned):
            await model.aclose()

    def model_name(self, role: AgentRole) -> str:
        return self._models[role].name

    def thinking(self, role: AgentRole) -> bool | None:
        """Whether `role`'s model thinks before it answers: as configured (or its profile says), else yes when its
        name or litellm's information says so or a reply of it thought, no once a reply ended without thinking,
        and None until then (a reply cut before its `</think>` tells nothing)."""
        name = self.model_name(role)
        told = self.reasoning if self.reasoning is not None else profile_for(self.profile, name).reasoning
        if told is not None:
            return told
        if self._seen.get(name):
            return True
        if name not in self._named:
            self._named[name] = thinks(name)
        return True if self._named[name] else self._seen.get(name)

    def model_names(self) -> dict[str, str]:
        return {role: model.name for role, model in self._models.items()}

    async def complete(
        self,
        role: AgentRole,
        messages: list[Message],
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        seed: int | None = None,
        logprobs: bool = False,
        cut_retry_tokens: int | None = None,
    ) -> ModelResponse:
        request = ModelRequest(
            role=role, messages=messages, temperature=temperature, max_tokens=max_tokens, seed=seed, logprobs=logprobs,
            params=self.params.get(role, {}), cut_retry_tokens=cut_retry_tokens,
        )  # fmt: skip
        response = await self._models[role].complete(request)
        name = self.model_name(role)
        if response.reasoning:
            self._seen[name] = True  # it thinks: its next calls get a thinker's budgets
        elif response.finish_reason != "length":
            self._seen.setdefault(name, False)
        return response


def _configured_models(config: Settings) -> dict[AgentRole, Model]:
    """Real models for the configured model strings; one object per distinct string."""
    built: dict[str, Model] = {}
    if config.endpoints:  # the configured model is served by the replicas
        built[config.model] = RouterModel(config.model, config.endpoints, routing=config.routing)
    for role in ROLES:
        name = config.model_for(role)
        if name not in built:
            built[name] = (
                EmbeddedModel(threads=config.embedded_threads, ctx=config.embedded_ctx)
                if name == EMBEDDED_MODEL
                else LiteLLMModel(name, api_base=config.api_base, api_key=secret(config.api_key))
            )
    return {role: built[config.model_for(role)] for role in ROLES}
