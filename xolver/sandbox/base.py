"""The sandbox seam: run untrusted code with limits and get back what it did."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import Field

from xolver.schema import ExecResult, Record

__all__ = ["ExecResult", "Limits", "Sandbox"]


class Limits(Record):
    """Resource limits for one run."""

    memory_mb: int = Field(512, ge=16)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(64, ge=4)
    disk_mb: int = Field(64, ge=1, description="size of the work directory, and of any one file")
    output_bytes: int = Field(1_000_000, ge=1024, description="cap on stdout and on stderr")


@runtime_checkable
class Sandbox(Protocol):
    """Runs untrusted Python. A cancelled `run` kills its program; `aclose` releases what the sandbox holds
    (warm containers); whoever opened the sandbox closes it."""

    name: str

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        """Run Python `code` in a fresh work directory holding `files`, feeding it `stdin`."""
        ...

    async def aclose(self) -> None: ...
