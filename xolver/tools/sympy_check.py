"""The `sympy_check` tool: are two math answers equal symbolically? Parsed inside the sandbox, since
sympy's parser evaluates its input; and before sympy sees an answer, it must read as a plain expression
(numbers, names, arithmetic, calls of sympy's functions): no attribute, subscript, string, lambda or dunder name, so an
answer like `__import__('os').system(...)` is unparsable rather than run."""

from __future__ import annotations

import json

from xolver.sandbox.base import Sandbox

_PROGRAM = """
import ast, builtins, json, sys
import sympy
CALLABLE = (set(vars(sympy)) - set(vars(builtins))) | {'abs', 'min', 'max', 'pow'}
PLAIN = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.operator, ast.unaryop,
         ast.Compare, ast.cmpop, ast.Tuple)
def plain(text):
    tree = ast.parse(text.replace('^', '**'), mode='eval')
    for node in ast.walk(tree):
        number = isinstance(node, ast.Constant) and type(node.value) in (int, float, complex)
        if not (number or isinstance(node, PLAIN)) or (isinstance(node, ast.Name) and node.id.startswith('_')):
            raise ValueError(type(node).__name__)
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in CALLABLE
                                           or node.keywords):
            raise ValueError('call')
    return text
a, b = json.loads(sys.stdin.read())
try:
    x, y = sympy.sympify(plain(a)), sympy.sympify(plain(b))
    print("equal" if sympy.simplify(x - y) == 0 else "different")
except Exception:
    print("unparsable")
"""


async def sympy_equal(sandbox: Sandbox, answer: str, reference: str, *, timeout: float = 10.0) -> bool | None:
    """True or False when sympy can read both; None when it cannot (or the check failed)."""
    result = await sandbox.run(_PROGRAM, stdin=json.dumps([answer, reference]), timeout=timeout)
    verdict = result.stdout.strip()
    return {"equal": True, "different": False}.get(verdict)
