"""`ProcessSandbox`: Linux namespaces made with `unshare`, for machines without a Docker engine.

The program gets its own network (none), PID, mount, IPC and UTS namespaces; the host's writable and
private places (/tmp, /root, /home, /run, ...) are hidden behind empty tmpfs mounts; it runs as an
unprivileged user with rlimits on memory, processes, file size, open files and CPU, with a scrubbed
environment, in a size-limited tmpfs work directory. Running as root is needed to drop to that user;
otherwise a user namespace maps the caller to root inside and the host user stays unprivileged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time

from xolver.sandbox.base import ExecResult, Limits
from xolver.sandbox.common import RUNNER_SOURCE, SANDBOX_UID, parse_report, payload

SYSTEM_PYTHON = "/usr/bin/python3"  # the host's own Python: the one left visible inside
GRACE = 5.0  # seconds the runner gets beyond the program's timeout before it is killed itself


def process_sandbox_problem() -> str | None:
    """Why the process sandbox cannot run here, or None."""
    if not shutil.which("unshare"):
        return "`unshare` (util-linux) is not installed"
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing (install python3)"
    return None


class ProcessSandbox:
    name = "process"

    def __init__(self, limits: Limits | None = None, *, python: str = SYSTEM_PYTHON) -> None:
        self.limits = limits or Limits()
        self.python = python

    def command(self) -> list[str]:
        flags = ["--mount", "--net", "--pid", "--fork", "--mount-proc", "--ipc", "--uts", "--kill-child"]
        if os.geteuid() != 0:
            flags = ["--user", "--map-root-user", *flags]
        return ["unshare", *flags, self.python, "-I", "-c", RUNNER_SOURCE]

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        limits = limits or self.limits
        data = payload(
            code, stdin=stdin, files=files, timeout=timeout, limits=limits, workdir="/tmp/work", isolate=True,
            uid=SANDBOX_UID if os.geteuid() == 0 else None, python=self.python,
        )  # fmt: skip
        start = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(timeout + GRACE):
                out, err = await process.communicate(data)
        except TimeoutError:
            await _kill(process)
            return ExecResult(exit_code=None, timed_out=True, duration=time.monotonic() - start, backend=self.name)
        except asyncio.CancelledError:  # the caller gave up: the program must not outlive its run
            await asyncio.shield(_kill(process))
            raise
        result, _ = parse_report(out + err, backend=self.name, fallback_duration=time.monotonic() - start)
        return result

    async def aclose(self) -> None:
        """Holds nothing between runs."""


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the runner's whole session (the namespace's PID 1 goes with it, and every process inside)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
