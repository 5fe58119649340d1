"""Math through programs, for models that cannot calculate: reading a program's answer from what it
printed, and keeping a solved program in a form the next problem of the same kind can adapt (each of the
problem's numbers lifted into a named variable at the top)."""

from __future__ import annotations

import ast
import re

from xolver.schema import Candidate
from xolver.team.parsing import as_number

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_STATED_RESULT = re.compile(r"^(?P<line>.*\S)\s*=\s*-?\$?\d[\d,]*(?:\.\d+)?(?:\s*[A-Za-z%$]+)*\s*\.?\s*$")
_TOKEN = re.compile(r"-?\d+(?:\.\d+)?|[A-Za-z]+|[.?!;:]")
STOP_WORDS = frozenset(
    [
        "a", "an", "the", "of", "for", "and", "or", "to", "per", "in", "on", "at", "by", "each", "every", "is", "are",
        "was", "were", "it", "its", "with", "from", "than", "more", "less", "times", "has", "have", "had", "how",
        "what", "many", "much", "then", "also", "again", "she", "he", "they",
    ]
)


def program_answered(candidate: Candidate) -> bool | None:
    """Whether a candidate's programs ran and the last one printed something: None when it wrote none.
    A program that crashed, or ran and printed nothing (a function defined and never called), computed
    no answer, whatever its source says."""
    runs = [call for call in candidate.tool_calls if call.tool == "python"]
    if not runs:
        return None
    return all(call.ok for call in runs) and bool(runs[-1].output.strip())


def answer_from_output(output: str) -> str | None:
    """The answer a program printed: its last line when that is a value (a number, an expression such as
    `2*sqrt(3)`, LaTeX), else the last number in it (`The total is 65.`), else the line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    if as_number(last) is not None or "\\" in last or _is_expression(last):
        return last
    numbers = _NUMBER.findall(last.replace(",", ""))
    return numbers[-1] if numbers else last


def _is_expression(line: str) -> bool:
    try:
        ast.parse(line.replace("^", "**"), mode="eval")
    except SyntaxError:
        return False
    return True


def _names(problem: str) -> dict[str, str]:
    """A variable name for each number of the problem: the first word after it that is not a stop word
    (within its clause, before the next number), else the nearest such word before it, else `value`."""
    tokens = _TOKEN.findall(problem.replace(",", ""))

    def word(start: int, step: int) -> str | None:
        i = start + step
        while 0 <= i < len(tokens) and not _NUMBER.fullmatch(tokens[i]) and tokens[i] not in ".?!;:":
            if tokens[i].lower() not in STOP_WORDS:
                return tokens[i].lower()
            i += step
        return None

    numbers = [i for i, token in enumerate(tokens) if _NUMBER.fullmatch(token)]
    names: dict[str, str] = {}
    taken: set[str] = set()
    for pass_ in (1, -1):  # names from the words after the numbers first, then from the words before them
        for i in numbers:
            base = word(i, pass_)
            if tokens[i] in names or (base is None and pass_ == 1):
                continue
            base = base or "value"
            name, n = base, 2
            while name in taken or not name.isidentifier():
                name, n = f"{base}_{n}", n + 1
            taken.add(name)
            names[tokens[i]] = name
    return names


class _Lift(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.used: dict[str, str] = {}

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) in (int, float) and not isinstance(node.value, bool):
            key = _NUMBER.fullmatch(repr(node.value).removesuffix(".0")) and repr(node.value).removesuffix(".0")
            if key and key in self.names:
                self.used[key] = self.names[key]
                return ast.copy_location(ast.Name(id=self.names[key], ctx=ast.Load()), node)
        return node


def lift_numbers(program: str, problem: str) -> str:
    """`program` with every number of `problem` it uses as a literal moved into a named variable at the top,
    so a sibling problem is solved by changing those lines. A program that already names them, or that does
    not parse, comes back as it was."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    named = {
        target.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }
    names = {value: name for value, name in _names(problem).items() if name not in named}
    lift = _Lift(names)
    body = [stmt if _is_naming(stmt) else lift.visit(stmt) for stmt in tree.body]
    if not lift.used:
        return program
    header = [f"{name} = {value}" for value, name in lift.used.items()]
    return "\n".join(header) + "\n" + ast.unparse(ast.Module(body=body, type_ignores=[]))


REPAIRED_NOTE = "[program repaired: the results written after `=` were dropped, so Python computes them]"


def repair_stated_results(program: str) -> str | None:
    """A program that does not parse only because the model wrote its own arithmetic's result after an
    expression (`total = 82 + 90 + 74 = 316`, `= 50 degrees`), with those results dropped so that Python
    computes them; a program that parses comes back as it is, None when something else keeps it from
    parsing. SmolLM2-135M wrote such lines in 11 of 180 programs on the family set and 8 of 102 on GSM8K."""
    lines = program.splitlines()
    for _ in range(program.count("=") + 1):  # each repair drops one `=`
        try:
            ast.parse("\n".join(lines))
        except SyntaxError as error:
            at = (error.lineno or 0) - 1
            found = _STATED_RESULT.match(lines[at]) if 0 <= at < len(lines) else None
            if found is None:
                return None
            lines[at] = found["line"]
        else:
            return "\n".join(lines)
    return None


def _is_naming(stmt: ast.stmt) -> bool:
    """`name = 12`: already a named quantity, left alone."""
    return isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
