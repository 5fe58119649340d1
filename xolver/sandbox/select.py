"""Choosing a sandbox backend: `auto` takes Docker when its engine answers, else the process sandbox.

A backend asked for by name that cannot run here is an error, never a silent fall back to a weaker one.
"""

from __future__ import annotations

from typing import Literal

from xolver.errors import ConfigError
from xolver.sandbox.base import Limits, Sandbox
from xolver.sandbox.docker import IMAGE, DockerSandbox, docker_problem
from xolver.sandbox.process import ProcessSandbox, process_guarantees, process_sandbox_problem

Backend = Literal["auto", "docker", "process"]


def doctor(image: str = IMAGE) -> dict[str, str | None]:
    """For each backend: None when it works here, else why not."""
    return {"docker": docker_problem(image), "process": process_sandbox_problem()}


def guarantees(backend: str) -> str:
    """What isolation a working backend gives each run here, in a line."""
    if backend == "process":
        return process_guarantees()
    return "a warm container per run, cleaned between runs: a uid, memory, processes and CPU bounded per container"


def open_sandbox(backend: Backend = "auto", *, limits: Limits | None = None, image: str = IMAGE) -> Sandbox:
    problems = doctor(image) if backend == "auto" else {backend: _problem(backend, image)}
    if backend in ("auto", "docker") and problems.get("docker") is None:
        return DockerSandbox(limits, image=image)
    if backend in ("auto", "process") and problems.get("process") is None:
        return ProcessSandbox(limits)
    reasons = "; ".join(f"{name}: {why}" for name, why in problems.items())
    raise ConfigError(f"no sandbox backend can run here ({reasons})")


def _problem(backend: str, image: str) -> str | None:
    if backend == "docker":
        return docker_problem(image)
    if backend == "process":
        return process_sandbox_problem()
    raise ConfigError(f"unknown sandbox backend {backend!r}: choose auto, docker or process")
