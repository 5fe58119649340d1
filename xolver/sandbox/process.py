"""`ProcessSandbox`: Linux namespaces made with `unshare`, for machines without a Docker engine.

Each run gets new mount, PID, network (none), IPC and UTS namespaces; the host's writable and private
places (/tmp, /var/tmp, /dev/shm, /root, /home, /run, ...) are hidden behind fresh, empty tmpfs mounts,
so every run starts clean and leaves nothing behind. The program runs as uid UID_BASE + its runner's
host PID, unique among live runs and owned by no host user, so per-user limits (processes) are per run,
and in a cgroup of its own that bounds the run's processes, memory and CPU together, whatever it forks.
Dropping to that uid needs root: without it the sandbox refuses to run (the program would be root of
its user namespace, free to setuid, chroot and mount there), and `xolver sandbox doctor` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import time

from xolver.errors import ConfigError
from xolver.sandbox.base import ExecResult, Limits
from xolver.sandbox.cgroups import RunCgroup, cgroups_problem
from xolver.sandbox.common import RUNNER_SOURCE, UID_BASE, check_files, header, parse_report, uid_range_problem

SYSTEM_PYTHON = "/usr/bin/python3"  # the host's own Python: the one left visible inside
GRACE = 5.0  # seconds the runner gets beyond the program's timeout before it is killed itself
NAMESPACES = ["--mount", "--net", "--pid", "--fork", "--mount-proc", "--ipc", "--uts", "--kill-child"]


def process_sandbox_problem() -> str | None:
    """Why the process sandbox cannot run here, or None."""
    if not shutil.which("unshare"):
        return "`unshare` (util-linux) is not installed"
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing (install python3)"
    if os.geteuid() != 0:
        return (
            "not root: the process sandbox runs each program as a uid of its own, which needs root; without it "
            "the program would be root of its namespaces (use Docker, or run as root)"
        )
    return uid_range_problem()


def process_guarantees() -> str:
    """What isolation process-sandbox runs get on this host, in a line (for `xolver sandbox doctor`)."""
    problem = cgroups_problem()
    if problem is None:
        return "a uid and a cgroup per run: processes, memory and CPU bounded per run"
    return (
        f"a uid per run but no per-run cgroup ({problem}): processes bounded per run, memory per process "
        "(RLIMIT_AS), CPU time per process"
    )


class ProcessSandbox:
    name = "process"

    def __init__(self, limits: Limits | None = None, *, python: str = SYSTEM_PYTHON) -> None:
        problem = process_sandbox_problem()
        if problem is not None:
            raise ConfigError(f"the process sandbox cannot run here: {problem}")
        self.limits = limits or Limits()
        self.python = python
        self.cgroups = cgroups_problem() is None

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
        check_files(files)
        start = time.monotonic()
        process = await _spawn([self.python, "-I", "-c", RUNNER_SOURCE])
        cgroup = None
        try:
            if self.cgroups:
                # a pid is reused, and a killed run's cgroup stays behind: the name is the run's alone
                name = f"run-{process.pid}-{secrets.token_hex(4)}"
                cgroup = await asyncio.to_thread(RunCgroup.create, name, limits)
            data = header(
                code, stdin=stdin, files=files, timeout=timeout, limits=limits, uid=UID_BASE + process.pid,
                workdir="/tmp/work", writable=[], isolate=True, rlimit_as=cgroup is None, python=self.python,
                cgroups=[str(d) for d in cgroup.directories] if cgroup else None,
                oom_counter=str(cgroup.oom_counter) if cgroup else None,
            )  # fmt: skip
            async with asyncio.timeout(timeout + GRACE):
                out, err = await process.communicate(data)
        except TimeoutError:
            await _kill(process)
            return ExecResult(exit_code=None, timed_out=True, duration=time.monotonic() - start, backend=self.name)
        except BaseException:  # cancelled, or the cgroup could not be made: the program must not outlive its run
            await asyncio.shield(_kill(process))
            raise
        finally:
            if cgroup is not None:
                await asyncio.shield(asyncio.to_thread(cgroup.remove))
        result, _ = parse_report(out, backend=self.name, duration=time.monotonic() - start, stderr=err)
        return result

    async def aclose(self) -> None:
        """Holds nothing between runs."""


async def _spawn(command: list[str]) -> asyncio.subprocess.Process:
    """The runner, in namespaces of its own and a session of its own. Its start is shielded: asyncio (3.11)
    cancelled while a process starts kills only that process (`unshare`) and then waits for its pipes to close,
    which the runner, spared when it had not yet set its parent-death signal, holds open forever: a solve
    cancelled then (a sibling turn failed, a deadline, a client gone) hung its whole batch. So the start
    finishes, and a cancelled run kills the runner's whole session."""
    spawning = asyncio.ensure_future(asyncio.create_subprocess_exec(
        "unshare", *NAMESPACES, *command,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}, start_new_session=True,
    ))  # fmt: skip
    try:
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _kill(await spawning)
        raise


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the runner's whole session (the namespace's PID 1 goes with it, and every process inside)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
