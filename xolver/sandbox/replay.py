"""Replaying a recorded solve's sandbox runs: a `Sandbox` that answers each program with what it did then.

A run is answered by the first unused recorded run of the same program, input and files. A program the
recording never ran (today's parser extracted other code) is not run here either: it ends as a program
killed before it exited, with a message saying so, and is counted in `missing`.
"""

from __future__ import annotations

from collections.abc import Sequence

from xolver.sandbox.base import ExecResult, Limits
from xolver.schema import SandboxRun


class ReplaySandbox:
    name = "replay"

    def __init__(self, runs: Sequence[SandboxRun]) -> None:
        self.runs = list(runs)
        self.used = [False] * len(self.runs)
        self.missing = 0

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        for index, run in enumerate(self.runs):
            if not self.used[index] and (run.code, run.stdin, run.files) == (code, stdin, files or {}):
                self.used[index] = True
                return run.result
        self.missing += 1
        return ExecResult(
            stderr="replay: the recording never ran this program, so it is not run now", exit_code=None,
            backend=self.name,
        )  # fmt: skip

    async def aclose(self) -> None:
        """Holds nothing."""
