"""What both backends share: the in-sandbox runner, its payload, and reading its report."""

from __future__ import annotations

import json
from importlib.resources import files

from xolver.sandbox.base import ExecResult, Limits

RUNNER_SOURCE = (files("xolver.sandbox") / "runner.py").read_text(encoding="utf-8")
SANDBOX_UID = 1000  # the unprivileged user programs run as (created in the image; any free uid on a host)


def payload(
    code: str,
    *,
    stdin: str | None,
    files: dict[str, str] | None,
    timeout: float,
    limits: Limits,
    workdir: str,
    isolate: bool,
    uid: int | None,
    python: str = "python3",
) -> bytes:
    return json.dumps(
        {
            "code": code,
            "stdin": stdin or "",
            "files": files or {},
            "timeout": timeout,
            "memory_mb": limits.memory_mb,
            "pids": limits.pids,
            "disk_mb": limits.disk_mb,
            "output_bytes": limits.output_bytes,
            "uid": uid,
            "gid": uid,
            "workdir": workdir,
            "isolate": isolate,
            "python": python,
        }
    ).encode()


def parse_report(raw: bytes, *, backend: str, fallback_duration: float) -> tuple[ExecResult, bool]:
    """The runner's JSON line and True; for a runner that died without one, a killed run and False."""
    for line in reversed(raw.decode(errors="replace").strip().splitlines()):
        if line.startswith("{"):
            try:
                return ExecResult(**json.loads(line), backend=backend), True
            except (ValueError, TypeError):
                break
    failed = ExecResult(
        stdout="",
        stderr=f"the sandbox runner gave no report: {raw[-500:].decode(errors='replace')}",
        exit_code=None,
        duration=fallback_duration,
        backend=backend,
    )
    return failed, False
