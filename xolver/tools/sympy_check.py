"""The `sympy_check` tool: are two math answers equal symbolically? Parsed inside the sandbox, since
sympy's parser evaluates its input."""

from __future__ import annotations

import json

from xolver.sandbox.base import Sandbox

_PROGRAM = """
import json, sys
import sympy
a, b = json.loads(sys.stdin.read())
try:
    x, y = sympy.sympify(a), sympy.sympify(b)
    print("equal" if sympy.simplify(x - y) == 0 else "different")
except Exception:
    print("unparsable")
"""


async def sympy_equal(sandbox: Sandbox, answer: str, reference: str, *, timeout: float = 10.0) -> bool | None:
    """True or False when sympy can read both; None when it cannot (or the check failed)."""
    result = await sandbox.run(_PROGRAM, stdin=json.dumps([answer, reference]), timeout=timeout)
    verdict = result.stdout.strip()
    return {"equal": True, "different": False}.get(verdict)
