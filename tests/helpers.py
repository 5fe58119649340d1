"""Scripted replies shared by the unit tests."""

from __future__ import annotations

from xolver import ExperienceStore, Xolver
from xolver.llm.base import Model, ModelRequest
from xolver.llm.testing import scripted_team
from xolver.sandbox.base import Sandbox
from xolver.sandbox.testing import ScriptedSandbox

PLAN = "1. Algebraist: equations\n2. Calculator: careful arithmetic\n3. Checker: verify each step\n4. Guesser: hunches"
SELECT = "1, 2, 3"


def make_xolver(
    model: Model, store: ExperienceStore | None = None, sandbox: Sandbox | None = None, **overrides: object
) -> Xolver:
    """A Xolver on a scripted model with no retry delays worth waiting for."""
    settings = {"agents": 3, "iterations": 2, "retries": 1, "retry_delay": 0.0, "timeout": 5.0, "recall": False}
    if store is not None:
        settings["memory"] = "learn"  # a store given is a store used (the tests' default memory mode is off)
    settings.update(overrides)
    return Xolver(model=model, store=store, sandbox=sandbox, **settings)


def planner_reply(request: ModelRequest) -> str:
    return SELECT if "Candidate roles" in request.prompt else PLAN


CHECK_PROMPT = "Write a short Python program that solves this problem on its own"


def checker(answer: str):
    """A verifier that states `answer`, and writes `print(answer)` when asked for an independent program."""

    def reply(request: ModelRequest) -> str:
        return f"```python\nprint({answer})\n```" if CHECK_PROMPT in request.prompt else f"\\boxed{{{answer}}}"

    return reply


def printing_sandbox() -> ScriptedSandbox:
    """Runs nothing: a program `print(X)` 'prints' X (enough for the verifier's scripted check programs)."""
    return ScriptedSandbox(lambda code, stdin: code.split("print(", 1)[-1].rsplit(")", 1)[0] + "\n")


def good_team(answer: str = "10063", score: str = "1"):
    return scripted_team(
        planner=planner_reply,
        solver=f"347 * 29 = 10063. So the answer is \\boxed{{{answer}}}.",
        judge=f"The multiplication is right.\nScore: {score}",
        verifier=checker(answer),
    )
