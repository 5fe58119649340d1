"""A recorded batch run for the viewer, replay and telemetry tests: 20 problems solved by a scripted team.

Everything a run can hold shows up in it: right and wrong answers, an answer corrected in round 2, a
judge whose reply cannot be read, a failed model call, Python run by a math solver, code problems judged
by their tests in a (scripted) sandbox, exemplars from memory, memory writes, and a reply carrying HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

from helpers import CHECK_PROMPT, planner_reply

from xolver import Experience, InMemoryExperienceStore, Problem, TestCase
from xolver.bench.runner import Evaluator, run_benchmark
from xolver.config import load_config
from xolver.errors import ModelServerError
from xolver.llm.base import ModelRequest, ModelResponse
from xolver.llm.testing import ScriptedModel
from xolver.runtime import Runtime
from xolver.sandbox.base import ExecResult
from xolver.sandbox.testing import ScriptedSandbox
from xolver.schema import Usage

WRONG_FIRST = {"q03", "q07"}  # wrong in round 1 (each agent its own way), corrected in round 2
ALWAYS_WRONG = {"q05", "q11"}
UNREADABLE_JUDGE = {"q09"}
FAILING_SOLVER = {"q13"}  # one agent's call fails
PYTHON_SOLVER = {"q02", "q06"}  # the solver writes Python; its output is the answer
HTML_REPLY = {"q04"}
CODER = "Read the numbers and add them.\n```python\nprint(sum(map(int, input().split())))\n```"


def problems() -> list[Problem]:
    math = [
        Problem(id=f"q{i:02d}", text=f"What is {12 + i} times {30 + 2 * i}?", answer=str((12 + i) * (30 + 2 * i)))
        for i in range(16)
    ]
    code = [
        Problem(
            id=f"c{i}", kind="code", text=f"Read {i + 2} integers on one line and print their sum.",
            tests=[TestCase(input=" ".join(str(n) for n in range(i + 2)), output=str(sum(range(i + 2)))),
                   TestCase(input="5 " * (i + 2), output=str(5 * (i + 2)), hidden=True)],
        )
        for i in range(4)
    ]
    return math + code


def _problem(prompt: str) -> tuple[str, int]:
    a, b = map(int, re.search(r"What is (\d+) times (\d+)\?", prompt).groups())  # type: ignore[union-attr]
    return f"q{a - 12:02d}", a * b


def _solver(request: ModelRequest) -> str:
    asked = request.messages[-1].content  # earlier turns may hold a solved exemplar's problem
    pid, product = _problem(asked)
    told = f"{request.messages[0].content}\n{asked}"  # after exemplar turns the role is in the system prompt
    role = re.search(r"You are the (\w+)", told).group(1)  # type: ignore[union-attr]
    if pid in FAILING_SOLVER and role == "Checker":
        raise ModelServerError("injected: the server failed", status=503)
    retry = "previous attempt" in asked
    wrong = pid in ALWAYS_WRONG or (pid in WRONG_FIRST and not retry)
    answer = product + (1 + "lah".find(role[1]) if pid in WRONG_FIRST else 1) if wrong else product
    if pid in PYTHON_SOLVER:
        return f"Let Python multiply.\n```python\nprint({product})\n```"
    extra = " <script>alert('x')</script> <b>bold?</b>" if pid in HTML_REPLY else ""
    return f"As the {role}: I multiply the two factors.{extra}\nSo the answer is \\boxed{{{answer}}}."


def _judge(request: ModelRequest) -> str:
    if "NEW tests" in request.prompt:  # after a code solve: tests the team never saw
        return '{"input": "4 5 6", "output": "15"}\n{"input": "0 0", "output": "0"}'
    pid, product = _problem(request.prompt)
    if pid in UNREADABLE_JUDGE:
        return "Looks plausible to me."
    solution = request.prompt.split("Proposed solution:", 1)[1]
    right = f"{{{product}}}" in solution or f"\n{product}" in solution or f"print({product})" in solution
    return f"Assessment: {'the product is right' if right else 'the product is off'}.\nScore: {1 if right else 0.2}"


def _verifier(request: ModelRequest) -> str:
    if "Applies when" in request.prompt:
        return (
            "Strategy: split one factor into tens and units and add the partial products.\n"
            "Applies when: two numbers are multiplied."
        )
    if CHECK_PROMPT in request.prompt:  # an independent program, for the verification: it computes, from the numbers
        a, b = map(int, re.search(r"What is (\d+) times (\d+)\?", request.prompt).groups())  # type: ignore[union-attr]
        return f"```python\nprint({a} * {b})\n```"
    return f"\\boxed{{{_problem(request.prompt)[1]}}}"


def reply(request: ModelRequest) -> str | ModelResponse:
    if request.role == "planner":
        return planner_reply(request)
    if request.role == "coder":
        text = CODER
    elif request.role == "judge":
        text = _judge(request)
    elif request.role == "verifier":
        text = _verifier(request)
    else:
        text = _solver(request)
    tokens = Usage(prompt_tokens=len(request.prompt) // 4, completion_tokens=len(text) // 4 + 1)
    reasoning = "Let me think about the team's task first." if request.role == "solver" else ""
    return ModelResponse(text=text, model="scripted", reasoning=reasoning, finish_reason="stop", usage=tokens)


def run_program(code: str, stdin: str | None) -> str | ExecResult:
    if "sum(map(int" in code:
        return str(sum(int(n) for n in (stdin or "").split()))
    product = re.search(r"print\((\d+) \* (\d+)\)", code)
    if product:
        return str(int(product.group(1)) * int(product.group(2)))
    printed = re.search(r"print\((\d+)\)", code)
    if printed:
        return printed.group(1)
    return ExecResult(stderr="NameError: name 'x' is not defined", exit_code=1, backend="scripted")


SEED = [
    Experience(
        kind="solution", problem="What is 11 times 40?", content="11 * 40 = 440. \\boxed{440}", verified=True,
        provenance={"run_id": "r-seed", "problem_id": "gsm-17"},
    )
]


async def record_run(out: Path, *, iterations: int = 2, concurrency: int = 4) -> Path:
    """Solve and grade the 20 problems into `out` (and its solves sidecar); returns `out`."""
    config = load_config(
        agents=3, iterations=iterations, retries=0, retry_delay=0.0, timeout=5.0, recall=False, memory=True,
        sandbox="process", seed=7,
    )  # fmt: skip
    model = ScriptedModel(reply, name="openai/scripted-7b")
    runtime = Runtime(config, model=model, store=InMemoryExperienceStore(SEED), sandbox=ScriptedSandbox(run_program))
    async with runtime:
        evaluator = Evaluator.of(runtime, dataset="toy")
        await run_benchmark(problems(), evaluator.evaluate, out, concurrency=concurrency)
    return out
