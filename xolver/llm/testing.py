"""Test doubles for the model seam, shipped in the package so users can test their own pipelines.

    model = ScriptedModel(lambda request: r"The answer is \\boxed{42}")

`fn` gets the `ModelRequest` (its `role` says which agent asks) and returns the reply text or a
`ModelResponse`, or raises a `ModelError` to simulate a failing provider. It may be async.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from xolver.llm.base import ModelRequest, ModelResponse
from xolver.llm.litellm_model import set_real_requests_allowed
from xolver.schema import Usage

ScriptFn = Callable[[ModelRequest], str | ModelResponse | Awaitable[str | ModelResponse]]


class ScriptedModel:
    """A deterministic model: replies come from `fn`; every request is kept in `requests`."""

    def __init__(self, fn: ScriptFn, *, name: str = "scripted") -> None:
        self.fn = fn
        self.name = name
        self.requests: list[ModelRequest] = []
        self.closed = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        reply = self.fn(request)
        if inspect.isawaitable(reply):
            reply = await reply
        if isinstance(reply, ModelResponse):
            return reply
        return ModelResponse(
            text=reply,
            model=self.name,
            usage=Usage(prompt_tokens=len(request.prompt.split()), completion_tokens=len(reply.split())),
        )

    async def aclose(self) -> None:
        """Holds nothing; counts closes so tests can check who closed it."""
        self.closed += 1


@contextmanager
def block_model_requests() -> Iterator[None]:
    """Inside this block any real model request raises `RealModelRequestBlocked`."""
    previous = set_real_requests_allowed(False)
    try:
        yield
    finally:
        set_real_requests_allowed(previous)


@contextmanager
def allow_model_requests() -> Iterator[None]:
    """Lift the guard for one block (integration tests that use the real embedded model)."""
    previous = set_real_requests_allowed(True)
    try:
        yield
    finally:
        set_real_requests_allowed(previous)


Reply = str | ModelResponse | Callable[[ModelRequest], str | ModelResponse | Awaitable[str | ModelResponse]]


def scripted_team(**replies: Reply) -> ScriptedModel:
    """A `ScriptedModel` that answers each agent role with its own reply (text or function).

        scripted_team(planner="Algebraist: equations", solver=r"\\boxed{4}", judge="Score: 1")

    A role without a reply gets an empty string, which the team must survive like any bad reply.
    """

    def fn(request: ModelRequest) -> str | ModelResponse | Awaitable[str | ModelResponse]:
        reply = replies.get(request.role, "")
        return reply(request) if callable(reply) else reply

    return ScriptedModel(fn)
