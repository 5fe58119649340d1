"""What every agent shares: its client, its settings, and how it asks its model."""

from __future__ import annotations

from xolver.config import XolverConfig
from xolver.llm.base import Message, ModelResponse
from xolver.llm.client import ModelClient
from xolver.sandbox.base import Sandbox
from xolver.schema import AgentRole
from xolver.team.templates import render


class Agent:
    """An agent of the team. Subclasses set `role` (which model serves them) and add their one job."""

    role: AgentRole
    follows_format = True  # planner, judge, verifier: sampled cooler so their replies stay parseable

    def __init__(self, client: ModelClient, config: XolverConfig, sandbox: Sandbox | None = None) -> None:
        self.client = client
        self.config = config
        self.sandbox = sandbox

    async def ask(
        self,
        prompt: str,
        *,
        max_tokens: int,
        seed_offset: int = 0,
        role: AgentRole | None = None,
        temperature: float | None = None,
    ) -> ModelResponse:
        """One chat turn: the shared system prompt, then `prompt`. Seeds differ per agent and turn."""
        seed = None if self.config.seed is None else self.config.seed + seed_offset
        messages = [Message(role="system", content=render("system")), Message(role="user", content=prompt)]
        if temperature is None:
            temperature = self.config.control_temperature if self.follows_format else self.config.temperature
        return await self.client.complete(
            role or self.role, messages, temperature=temperature, max_tokens=max_tokens, seed=seed
        )


def clip(text: str, limit: int) -> str:
    """Keep prompts inside a small model's context: the head and the tail, which holds the answer."""
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]}\n[...]\n{text[-(limit - head) :]}"
