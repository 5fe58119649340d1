"""The model seam: one method, `complete`, and the request/response records it speaks."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from xolver.schema import AgentRole, ChatMessage, Usage

Message = ChatMessage


class ModelRequest(BaseModel):
    """One chat completion as an agent asks for it; `role` says which agent is asking."""

    role: AgentRole
    messages: list[Message]
    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = None
    logprobs: bool = False
    params: dict[str, Any] = Field(default_factory=dict, description="provider parameters, passed on as they are")
    cut_retry_tokens: int | None = Field(
        None, description="a reply cut at `max_tokens` is asked again with at least this many (a thinker's budget, "
        "while it is unknown whether the model thinks)",
    )

    @property
    def prompt(self) -> str:
        """The whole prompt as one string, for scripted models and logs."""
        return "\n\n".join(m.content for m in self.messages)


class ModelResponse(BaseModel):
    """A reply: the final `text` (the only part agents parse, share or store) and the model's `reasoning`
    apart. `finish_reason` is "length" when the token limit cut the reply."""

    text: str
    model: str
    reasoning: str = ""
    finish_reason: str | None = None
    certainty: float | None = Field(None, description="mean token probability, when logprobs were asked for and given")
    usage: Usage = Field(default_factory=Usage)


@runtime_checkable
class Model(Protocol):
    """Anything that completes a chat request. Errors are raised as `xolver.errors.ModelError`s.

    `aclose` releases what the model holds (an embedded server's lease); whoever built it calls it.
    """

    name: str

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    async def aclose(self) -> None: ...
