"""The real model: one `litellm.acompletion` call, its errors translated into Xolver's tree."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any

from pydantic import SecretStr

from xolver.errors import (
    ModelError,
    ModelRateLimited,
    ModelRequestRejected,
    ModelServerError,
    ModelTimeout,
    ModelUnreachable,
    RealModelRequestBlocked,
)
from xolver.llm.base import ModelRequest, ModelResponse
from xolver.llm.reasoning import split_reasoning
from xolver.schema import Endpoint, Usage

_real_requests_allowed = True


def set_real_requests_allowed(allowed: bool) -> bool:
    """Flip the guard that tests use to forbid real model requests; returns the previous value."""
    global _real_requests_allowed
    previous, _real_requests_allowed = _real_requests_allowed, allowed
    return previous


def check_real_requests_allowed(model: str) -> None:
    if not _real_requests_allowed:
        raise RealModelRequestBlocked(
            f"real model request to {model!r} blocked: use ScriptedModel, or mark the test real_model",
            model=model,
        )


def import_litellm() -> ModuleType:
    """Import litellm without letting it reach the network for its cost map; it is slow, so lazily."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def api_key_for(model: str, api_base: str | None, api_key: str | None) -> str | None:
    """An OpenAI-compatible local server (given as `api_base` or, as litellm reads it, in OPENAI_API_BASE)
    needs some key, and users rarely set one for it."""
    local = api_base or (model.startswith("openai/") and os.environ.get("OPENAI_API_BASE"))
    return api_key or (None if not local or os.environ.get("OPENAI_API_KEY") else "sk-local")


class LiteLLMModel:
    """Any model litellm reaches: `openai/<name>` with an `api_base` for a local server, `ollama/...`, ..."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name = model
        self.api_base = api_base
        self.api_key = api_key_for(model, api_base, api_key)
        self.extra = extra or {}

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_real_requests_allowed(self.name)
        litellm = import_litellm()
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": [m.model_dump() for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "num_retries": 0,  # RetryingModel owns retries
            "drop_params": True,  # a parameter the provider refuses (an o-series model's temperature) is left out
            **self.extra,
            **request.params,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.logprobs:
            kwargs.update(logprobs=True, top_logprobs=1)  # llama.cpp gives none without top_logprobs
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        try:
            response = await self._acompletion(litellm, kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise translate_error(exc, self.name) from exc
        return read_response(response, self.name)

    async def _acompletion(self, litellm: ModuleType, kwargs: dict[str, Any]) -> Any:
        return await litellm.acompletion(**kwargs)

    async def aclose(self) -> None:
        """Nothing of its own to release: litellm keeps its HTTP clients process-wide."""


class RouterModel(LiteLLMModel):
    """One model served by several endpoints (replicas), spread by litellm's Router.

    A replica that fails is cooled down by the Router and the request goes to another, so one dead
    replica costs a retry, not a failed solve; `RetryingModel` still owns retries of the whole group.
    """

    def __init__(self, name: str, endpoints: list[Endpoint], *, routing: str = "simple-shuffle") -> None:
        if not endpoints:
            raise ValueError("a RouterModel needs at least one endpoint")
        super().__init__(name)
        self.endpoints = endpoints
        self.routing = routing
        self._router: Any = None

    def router(self, litellm: ModuleType) -> Any:
        if self._router is None:
            deployments = []
            for endpoint in self.endpoints:
                params: dict[str, Any] = {"model": endpoint.model, "weight": endpoint.weight}
                if endpoint.api_base:
                    params["api_base"] = endpoint.api_base
                params["api_key"] = api_key_for(endpoint.model, endpoint.api_base, secret(endpoint.api_key))
                deployments.append({"model_name": self.name, "litellm_params": params})
            self._router = litellm.Router(
                model_list=deployments,
                routing_strategy=self.routing,
                num_retries=len(deployments) - 1,
                retry_after=0,
                allowed_fails=0,
                cooldown_time=30,
            )
        return self._router

    async def _acompletion(self, litellm: ModuleType, kwargs: dict[str, Any]) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if k not in ("api_base", "api_key", "num_retries")}
        return await self.router(litellm).acompletion(**kwargs)


def read_response(response: Any, model: str) -> ModelResponse:
    """litellm's reply as ours: final text and reasoning apart, why it finished, and what it cost.

    Reasoning tokens come from the provider's `completion_tokens_details` where it reports them, else they
    are estimated as the reasoning's share of the completion's characters.
    """
    choices = getattr(response, "choices", None) or []
    message = choices[0].message if choices else None
    content = (getattr(message, "content", None) or "") if message is not None else ""
    text, reasoning = split_reasoning(content, getattr(message, "reasoning_content", None))
    raw_usage = getattr(response, "usage", None)
    completion = getattr(raw_usage, "completion_tokens", 0) or 0
    details = getattr(raw_usage, "completion_tokens_details", None)
    thinking = getattr(details, "reasoning_tokens", None)
    if thinking is None:
        share = len(reasoning) / max(1, len(reasoning) + len(text))
        thinking = round(completion * share) if reasoning else 0
    cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost") or 0.0
    tokens = getattr(getattr(choices[0], "logprobs", None), "content", None) if choices else None
    probabilities = [math.exp(t.logprob) for t in tokens or [] if getattr(t, "logprob", None) is not None]
    return ModelResponse(
        text=text,
        reasoning=reasoning,
        finish_reason=getattr(choices[0], "finish_reason", None) if choices else None,
        certainty=sum(probabilities) / len(probabilities) if probabilities else None,
        model=model,
        usage=Usage(
            prompt_tokens=getattr(raw_usage, "prompt_tokens", 0) or 0,
            completion_tokens=completion,
            reasoning_tokens=min(int(thinking), completion) if completion else int(thinking),
            cost=float(cost),
        ),
    )


def translate_error(exc: BaseException, model: str) -> ModelError:
    """Map litellm's (and httpx's) exceptions onto Xolver's, by status code first, then by type name."""
    if isinstance(exc, ModelError):
        return exc
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    detail = str(exc).splitlines()[0][:300] if str(exc) else kind
    message = f"{model}: {kind}: {detail}"
    if isinstance(exc, TimeoutError) or kind in {"Timeout", "APITimeoutError"} or status == 408:
        return ModelTimeout(message, model=model)
    wait = retry_after(getattr(exc, "litellm_response_headers", None) or {})
    if status == 429 or kind == "RateLimitError":
        return ModelRateLimited(message, model=model, retry_after=wait)
    if _caused_by_refused_connection(exc):
        return ModelUnreachable(message, model=model)
    if isinstance(status, int) and 400 <= status < 500:
        return ModelRequestRejected(message, model=model)
    return ModelServerError(message, status=status if isinstance(status, int) else 500, model=model, retry_after=wait)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait a provider asked for: `retry-after-ms` (OpenAI's, precise), else `Retry-After` in seconds or
    as an HTTP date; None when it said nothing readable."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        if "retry-after" in lowered:
            return max(0.0, float(lowered["retry-after"]))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(lowered.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_CONNECT_FAILURES = {"APIConnectionError", "ConnectError", "ClientConnectorError"}


def _caused_by_refused_connection(exc: BaseException) -> bool:
    """litellm reports a dead server as a 500 'Connection error'; the exception chain says what it was."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, ConnectionError) or type(link).__name__ in _CONNECT_FAILURES:
            return True
        link = link.__cause__ or link.__context__
    return False
