"""Grading answers: math with `math-verify` (gold first) under a time limit of our own, code by tests.

math-verify's own timeouts use signals, which work only on the main thread, so they are switched off
and the comparison runs in a worker process that is killed when it overruns. The worker is started and
has imported math-verify before a comparison's clock starts: on a loaded machine that start took longer
than the comparison limit, and every answer, right ones included, was graded wrong.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import threading

from xolver.errors import GradingError, UserInputError
from xolver.orphans import exit_with_parent
from xolver.sandbox.base import Sandbox
from xolver.schema import Problem
from xolver.tools.tests import has_tests, run_tests


def _latex(text: str) -> str:
    text = text.strip()
    return text if "$" in text or "\\boxed" in text else f"${text}$"


def _ready() -> bool:
    import math_verify  # noqa: F401

    return True


def _verify(gold: str, answer: str) -> bool:
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns that its timeouts are off: ours is on

    gold_parsed = parse(_latex(gold), parsing_timeout=None)
    answer_parsed = parse(_latex(answer), parsing_timeout=None)
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


class MathGrader:
    """Grades math answers in a worker process; a comparison past `timeout` counts as wrong.

    `start_timeout` bounds the worker's start (spawn and import), which is not the answer's doing:
    a worker that does not start raises `GradingError`.
    """

    def __init__(self, timeout: float = 10.0, *, start_timeout: float = 300.0) -> None:
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent
                )
                try:
                    pool.submit(_ready).result(timeout=self.start_timeout)
                except ImportError as exc:
                    _stop(pool)
                    raise UserInputError("grading math needs math-verify: pip install math-verify") from exc
                except concurrent.futures.TimeoutError as exc:
                    _stop(pool)
                    raise GradingError(
                        f"the math grading worker did not start within {self.start_timeout:g} s"
                    ) from exc
                except concurrent.futures.process.BrokenProcessPool as exc:
                    _stop(pool)
                    raise GradingError("the math grading worker died while starting") from exc
                self._pool = pool
            return self._pool

    def equal(self, gold: str, answer: str | None) -> bool:
        """A dead worker (killed from outside, or crashed by this comparison) is replaced and the comparison
        tried once more on a fresh one; a second death raises `GradingError`: who killed it is unknown,
        so the answer is not called wrong."""
        if answer is None or not answer.strip():
            return False
        for _ in range(2):
            try:
                return self._compare(gold, answer)
            except concurrent.futures.process.BrokenProcessPool:
                self._kill()
        raise GradingError("the math grading worker died twice comparing this answer")

    def _compare(self, gold: str, answer: str) -> bool:
        future = self._executor().submit(_verify, gold, answer)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            self._kill()
            return False
        except concurrent.futures.process.BrokenProcessPool:
            raise
        except Exception:  # math-verify could not read one side: not equal
            return False

    def _kill(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            _stop(pool)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _stop(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


async def grade_code(sandbox: Sandbox, code: str | None, problem: Problem, *, timeout: float = 6.0) -> bool:
    """Right when every test passes (LiveCodeBench: stdin tests and `Solution()` calls; HumanEval checks)."""
    if not code:
        return False
    report = await run_tests(sandbox, code, problem, timeout=timeout)
    return report.total > 0 and report.passed == report.total


class Grader:
    """Right, wrong, or ungradable (None: no reference) for any problem of a set.

    Math and general answers go to `MathGrader`; code runs the problem's tests, hidden ones included,
    in `sandbox`. Grading never raises for a bad answer: an answer that cannot be read is wrong; it raises
    `GradingError` when the grader itself fails.
    The runtime builds it and closes it.
    """

    def __init__(self, sandbox: Sandbox | None = None, *, math: MathGrader | None = None, timeout: float = 6.0):
        self.sandbox = sandbox
        self.math = math or MathGrader()
        self.timeout = timeout

    async def grade(self, problem: Problem, answer: str | None) -> bool | None:
        """`answer` is the final answer, or the program for a code problem."""
        if is_code(problem):
            if self.sandbox is None:
                raise UserInputError("grading code needs a sandbox (Docker or process); see `xolver sandbox doctor`")
            return await grade_code(self.sandbox, answer, problem, timeout=self.timeout)
        if problem.answer is None:
            return None
        return await asyncio.to_thread(self.math.equal, problem.answer, answer)

    async def aclose(self) -> None:
        """Stop the math worker; a sandbox it was given stays its owner's."""
        await asyncio.to_thread(self.math.close)


def is_code(problem: Problem) -> bool:
    return problem.kind == "code" and has_tests(problem)
