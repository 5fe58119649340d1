"""The sandbox a runtime shares between its solves: a capacity limit over a backend (like the model
client's wrappers), a backend opened on its first run when the run may never execute code, and each run
recorded in the run logs open around it (a solve's, like the model calls of `xolver.llm.usage.call_log`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from xolver.aio import LoopLimit, ScopedLog
from xolver.sandbox.base import ExecResult, Limits, Sandbox
from xolver.schema import SandboxRun

_runs: ScopedLog[SandboxRun] = ScopedLog("xolver_run_logs")
run_log = _runs.scope  # `with run_log() as runs:` records every sandbox run made inside, in the order they end


class LimitedSandbox:
    """At most `limit` programs at once through `sandbox` (a Docker backend starts a container per
    concurrent run); or through the one `LimitedSandbox.opening(open_sandbox, limit)` opens on its first run.
    Each run is recorded in the open run logs."""

    def __init__(self, sandbox: Sandbox | None, limit: int, *, opener: Callable[[], Sandbox] | None = None) -> None:
        if (sandbox is None) == (opener is None):
            raise ValueError("give a sandbox or a function that opens one")
        self._sandbox = sandbox
        self._open = opener
        self._lock = threading.Lock()
        self.limit = LoopLimit(limit)

    @classmethod
    def opening(cls, opener: Callable[[], Sandbox], limit: int) -> LimitedSandbox:
        return cls(None, limit, opener=opener)

    @property
    def name(self) -> str:
        return self._sandbox.name if self._sandbox is not None else "unopened"

    def _backend(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                assert self._open is not None
                self._sandbox = self._open()
            return self._sandbox

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        started_at = datetime.now(UTC)
        async with self.limit.slot():
            backend = self._sandbox or await asyncio.to_thread(self._backend)
            result = await backend.run(code, stdin=stdin, files=files, timeout=timeout, limits=limits)
        if _runs.recording():
            _runs.record(SandboxRun(
                code=code, stdin=stdin, files=files or {}, timeout=timeout, result=result, started_at=started_at
            ))  # fmt: skip
        return result

    async def aclose(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            await sandbox.aclose()
