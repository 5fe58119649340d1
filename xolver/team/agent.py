"""What every agent shares: its client, its settings, and how it asks its model."""

from __future__ import annotations

from collections.abc import Sequence

from xolver.errors import ModelError, ModelUnreachable
from xolver.llm.base import Message, ModelResponse
from xolver.llm.client import ModelClient
from xolver.sandbox.base import Sandbox
from xolver.schema import AgentRole, Settings, TokenTask
from xolver.team.templates import render


class Agent:
    """An agent of the team. Subclasses set `role` (which model serves them) and add their one job."""

    role: AgentRole
    follows_format = True  # planner, judge, verifier: sampled cooler so their replies stay parseable

    def __init__(self, client: ModelClient, config: Settings, sandbox: Sandbox | None = None) -> None:
        self.client = client
        self.config = config
        self.sandbox = sandbox

    async def try_ask(
        self,
        prompt: str,
        *,
        task: TokenTask,
        seed_offset: int = 0,
        role: AgentRole | None = None,
        temperature: float | None = None,
        logprobs: bool = False,
        history: Sequence[Message] = (),
        system: str | None = None,
    ) -> ModelResponse | ModelError:
        """One chat turn: the system prompt (the team's shared one unless `system`), earlier turns (`history`),
        then `prompt`; seeds differ per agent and turn, and the completion budget is `task`'s for this model (a
        reasoning model's are larger; while nobody knows whether the model thinks, a cut reply is asked again
        with a thinker's budget).

        A failed call comes back as a value: the model's failure is an observation the caller records (on a
        candidate, a judgement, a fallback). An unreachable server still raises: no run goes on without it.
        """
        role = role or self.role
        thinking = self.client.thinking(role)
        max_tokens = self.config.tokens(task, reasoning=thinking is True)
        cut_retry = self.config.tokens(task, reasoning=True) if thinking is None else None
        seed = None if self.config.seed is None else self.config.seed + seed_offset
        system = render("system") if system is None else system
        messages = [Message(role="system", content=system), *history, Message(role="user", content=prompt)]
        if temperature is None and self.follows_format:
            temperature = self.config.control_temperature
        elif temperature is None:
            temperature = self.config.solver_temperature(self.client.model_name(role))
        try:
            return await self.client.complete(
                role, messages, temperature=temperature, max_tokens=max_tokens, seed=seed, logprobs=logprobs,
                cut_retry_tokens=cut_retry,
            )
        except ModelUnreachable:
            raise
        except ModelError as exc:
            return exc


def clip(text: str, limit: int) -> str:
    """Keep prompts inside a small model's context: the head and the tail, which holds the answer."""
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]}\n[...]\n{text[-(limit - head) :]}"
