"""The `python` tool: run code, return what it printed, as a `ToolCall` the agents and the trace keep."""

from __future__ import annotations

from xolver.sandbox.base import Sandbox
from xolver.schema import ToolCall

OUTPUT_CHARS = 2000


async def run_python(sandbox: Sandbox, code: str, *, stdin: str | None = None, timeout: float = 10.0) -> ToolCall:
    result = await sandbox.run(code, stdin=stdin, timeout=timeout)
    if result.timed_out:
        output = f"timed out after {timeout:g}s\n{result.stdout[-OUTPUT_CHARS:]}"
    else:
        output = result.stdout[-OUTPUT_CHARS:] + (f"\n{result.stderr[-OUTPUT_CHARS:]}" if result.stderr else "")
    return ToolCall(tool="python", arguments={"code": code}, output=output.strip(), ok=result.ok)
