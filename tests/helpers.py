"""Scripted replies shared by the unit tests."""

from __future__ import annotations

import ast

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


def checker(answer: str, program: str | None = None):
    """A verifier that states `answer`, and writes `program` when asked for an independent program: by default
    `print(347 * 29)` for 10063 (the good team's problem), else `print(answer)`, a literal that computes
    nothing and so is no evidence."""
    program = program or (f"print({PRODUCT})" if answer == "10063" else f"print({answer})")

    def reply(request: ModelRequest) -> str:
        return f"```python\n{program}\n```" if CHECK_PROMPT in request.prompt else f"\\boxed{{{answer}}}"

    return reply


PRODUCT = "347 * 29"


def printing_sandbox() -> ScriptedSandbox:
    """Runs nothing but arithmetic: a program `print(X)` prints X, its value when X is arithmetic on number
    literals (enough for scripted check programs, and for moving a problem's numbers in them)."""
    return ScriptedSandbox(lambda code, stdin: _value(code.split("print(", 1)[-1].rsplit(")", 1)[0]) + "\n")


def _value(text: str) -> str:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return text
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.operator, ast.unaryop)
    if not all(isinstance(node, allowed) for node in ast.walk(tree)):
        return text
    return str(eval(compile(tree, "<arithmetic>", "eval")))  # numbers and operators only


def good_team(answer: str = "10063", score: str = "1"):
    return scripted_team(
        planner=planner_reply,
        solver=f"347 * 29 = 10063. So the answer is \\boxed{{{answer}}}.",
        judge=f"The multiplication is right.\nScore: {score}",
        verifier=checker(answer),
    )
