"""What both backends share: the in-sandbox runner, a run's header, checking file names, reading a report."""

from __future__ import annotations

import json
import pwd
from importlib.resources import files as resources

from xolver.errors import UserInputError
from xolver.sandbox.base import ExecResult, Limits

RUNNER_SOURCE = (resources("xolver.sandbox") / "runner.py").read_text(encoding="utf-8")
# Programs run as UID_BASE + a host PID (a container's, or a process run's runner's): unique among live
# runs, so limits the kernel counts per user (RLIMIT_NPROC) are counted per run, and from a range no host
# user owns (systemd leaves 0x70000000-0x7fffffff unused; PIDs stay below 2**22).
UID_BASE = 0x70000000
UID_RANGE = range(UID_BASE, UID_BASE + 2**22)
RUNNER_TASKS = 8  # the runner's own processes and threads, on top of the program's `pids`
RUNNER_MB = 48  # the runner's own memory, on top of the program's `memory_mb`
NAME_MAX = 255


def check_files(files: dict[str, str] | None) -> None:
    """A run's file names are relative paths of plain names inside its work directory; anything else is
    refused before it reaches a sandbox."""
    for name in files or {}:
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or any(part in ("", ".", "..") or len(part.encode()) > NAME_MAX for part in parts)
            or any(ord(c) < 32 or c == "\x7f" for c in name)
        ):
            raise UserInputError(f"sandbox file name {name!r}: give a relative path of plain names")
        if name == "main.py":
            raise UserInputError("sandbox file name 'main.py' is the program itself: pass it as the code")


def uid_range_problem() -> str | None:
    """A host user inside the programs' uid range would share their limits: say so, or None."""
    owners = [user.pw_name for user in pwd.getpwall() if user.pw_uid in UID_RANGE]
    if owners:
        span = f"{UID_RANGE.start:#x}-{UID_RANGE.stop:#x}"
        return f"host users {', '.join(owners)} own uids in the sandbox's range {span}"
    return None


def header(
    code: str,
    *,
    stdin: str | None,
    files: dict[str, str] | None,
    timeout: float,
    limits: Limits,
    uid: int,
    workdir: str,
    writable: list[str],
    isolate: bool,
    rlimit_as: bool,
    cgroups: list[str] | None = None,
    oom_counter: str | None = None,
    python: str = "python3",
) -> bytes:
    """The runner's input for one run: a JSON line, then the program's stdin as raw bytes."""
    raw = (stdin or "").encode()
    fields = {
        "code": code,
        "files": files or {},
        "timeout": timeout,
        "memory_mb": limits.memory_mb,
        "pids": limits.pids,
        "disk_mb": limits.disk_mb,
        "output_bytes": limits.output_bytes,
        "uid": uid,
        "workdir": workdir,
        "writable": writable,
        "isolate": isolate,
        "rlimit_as": rlimit_as,
        "cgroups": cgroups or [],
        "oom_counter": oom_counter,
        "python": python,
        "stdin_size": len(raw),
    }
    return json.dumps(fields).encode() + b"\n" + raw


def parse_report(raw: bytes, *, backend: str, duration: float, stderr: bytes = b"") -> tuple[ExecResult, bool]:
    """The runner's report and whether it left its sandbox clean (fit for another run). A runner that
    died, or could not carry the run out, gives a killed run and False."""
    for line in reversed(raw.decode(errors="replace").strip().splitlines()):
        if line.startswith("{"):
            try:
                fields = json.loads(line)
            except ValueError:
                break
            if "error" in fields:
                return _failed(f"the sandbox runner failed: {fields['error']}", backend, duration), False
            clean = bool(fields.pop("clean"))
            return ExecResult(**fields, backend=backend), clean
    said = (raw[-300:] + stderr[-300:]).decode(errors="replace")
    return _failed(f"the sandbox runner gave no report: {said}", backend, duration), False


def _failed(message: str, backend: str, duration: float) -> ExecResult:
    return ExecResult(stdout="", stderr=message, exit_code=None, duration=duration, backend=backend)
