"""A fake sandbox for tests: `ScriptedSandbox(fn)` answers each run with `fn(code, stdin)`."""

from __future__ import annotations

from collections.abc import Callable

from xolver.sandbox.base import ExecResult, Limits


class ScriptedSandbox:
    """Runs nothing. `fn` returns the program's stdout (a clean exit) or a whole `ExecResult`."""

    name = "scripted"

    def __init__(self, fn: Callable[[str, str | None], str | ExecResult]) -> None:
        self.fn = fn
        self.runs: list[tuple[str, str | None]] = []
        self.closed = 0

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        self.runs.append((code, stdin))
        outcome = self.fn(code, stdin)
        if isinstance(outcome, ExecResult):
            return outcome
        return ExecResult(stdout=outcome, exit_code=0, backend=self.name)

    async def aclose(self) -> None:
        self.closed += 1
