"""Analogy: a solved problem's program, rebound to the numbers of a new problem of the same kind.

Memory keeps a solved math problem's program with the problem's numbers in named variables at the top
(`lift_numbers`), so the next problem of its kind is solved by changing those lines. A small model seldom
does that change itself (SmolLM2-135M, shown a right sibling program as an earlier turn: 5 right programs of
36 when asked to write one, 8 of 36 when asked only to write the named lines), while the change is
mechanical once each number of the new problem is matched to the number of the solved one that plays its
part. The match here uses the words around each number (its unit, what it counts, `each`/`per`), the order
they come in breaking ties, a percentage only ever standing for a percentage; a problem whose numbers cannot
all be matched, or whose best pairing shares no word at all (nothing says the two problems are of a kind),
gets no analogy. The adapted program is one more candidate: it is run, judged and voted on like the team's
own, and verified after.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xolver.team.programs import STOP_WORDS

_NAMES = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
_WORDS = {word: n for n, word in enumerate(_NAMES, 2)}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]+|%|[.?!;]")
_PERCENT = "percent"
_ALIKE = {
    "%": _PERCENT, "each": "per", "every": "per",
    "wide": "width", "broad": "width", "long": "length", "tall": "height", "high": "height", "deep": "depth",
}  # fmt: skip
_WINDOW = 2
CONSTANTS = frozenset(float(n) for n in (*range(13), 24, 60, 100, 365, 1000, 3600))  # counts and units anyone writes
_MAX_NUMBERS = 7  # matching tries every order of the numbers: 7! = 5040 at most


@dataclass(frozen=True)
class Number:
    value: float
    text: str
    position: int
    unit: str | None  # the first word after it: what it counts or measures
    context: frozenset[str]  # the words near it, up to the next number or the end of the sentence


def numbers(problem: str) -> list[Number]:
    """The numbers a problem states, digits or words (two to twelve), each with the words around it."""
    tokens = _TOKEN.findall(problem.replace(",", ""))
    found = []
    for i, token in enumerate(tokens):
        word = token.lower()
        if not _is_number(token):
            continue
        near: list[list[str]] = [[], []]
        for side, step in enumerate((-1, 1)):
            j = i + step
            while 0 <= j < len(tokens) and len(near[side]) < _WINDOW and tokens[j] not in ".?!;":
                if _is_number(tokens[j]):
                    break
                if key := _stem(tokens[j]):
                    near[side].append(key)
                j += step
        value = float(_WORDS[word]) if word in _WORDS else float(token)
        text = str(_WORDS[word]) if word in _WORDS else token
        unit = near[1][0] if near[1] else None
        found.append(Number(value=value, text=text, position=len(found), unit=unit,
                            context=frozenset(near[0] + near[1])))  # fmt: skip
    return found


def _is_number(token: str) -> bool:
    return token[0].isdigit() or token.lower() in _WORDS


def _stem(token: str) -> str | None:
    word = token.lower()
    if word in _ALIKE:
        return _ALIKE[word]
    if word in STOP_WORDS or len(word) < 3:
        return None
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def match(solved: list[Number], new: list[Number]) -> dict[int, Number] | None:
    """Each number of the solved problem paired with the new problem's number that plays its part: the
    pairing whose numbers share the most context words, the one that keeps their order among equals; a
    percentage pairs only with a percentage. None when the problems state different counts of numbers or too
    many to try, when no pairing is allowed, and when no matched pair shares a word: order alone pairs any
    two problems with as many numbers (the seed bank's rope conversion, `meters = 3.5; print(meters * 100)`,
    turned "What is 3 doubled?" into 300). Rebinding each of 29 right programs of the family set to every
    other problem of it, the two rules drop 669 of 752 rebindings across families (37 right by chance,
    none of those kept) and 18 of 87 within a family (14 right): 28 of the 48 problems keep a right
    rebinding, of 31."""
    if len(solved) != len(new) or not solved or len(solved) > _MAX_NUMBERS:
        return None
    best: tuple[int, int] | None = None
    pairing: tuple[int, ...] = ()
    for order in itertools.permutations(range(len(new))):
        if any((solved[i].unit == _PERCENT) != (new[j].unit == _PERCENT) for i, j in enumerate(order)):
            continue  # "15% are novels" is no count of books
        shared = sum(_likeness(solved[i], new[j]) for i, j in enumerate(order))
        kept = -sum(1 for a, b in itertools.combinations(order, 2) if a > b)
        if best is None or (shared, kept) > best:
            best, pairing = (shared, kept), order
    if best is None or best[0] == 0:
        return None
    return {i: new[j] for i, j in enumerate(pairing)}


def copied_from(
    program: str, problem: str, examples: list[str], programs: Mapping[str, Sequence[str]] | None = None
) -> str | None:
    """The example problem a program took its numbers from instead of `problem`: it is one of that example's
    `programs` (the same code, layout and comments aside), or it uses a number that example states and the
    problem does not (no common constant such as 60 or 100), at least as many of them as the problem's own
    (SmolLM2-135M, shown a solved sibling, often returns the sibling's program unchanged, which prints the
    sibling's answer; a model that copies one quantity and keeps one of the problem's is no better)."""
    used = _literals(program)
    if used is None:
        return None
    shape = _shape(program)
    for example, theirs in (programs or {}).items():
        if any(_shape(code) == shape for code in theirs):
            return example
    own = {n.value for n in numbers(problem)}
    mine = sum(1 for value in used if value in own)
    for example in examples:
        theirs = {n.value for n in numbers(example)} - own - CONSTANTS
        taken = sum(1 for value in used if value in theirs)
        if taken and taken >= mine:
            return example
    return None


def _shape(program: str) -> str | None:
    try:
        return ast.dump(ast.parse(program))
    except SyntaxError:
        return None


def computes_from(program: str, problem: str) -> bool:
    """Whether `program` uses one of the problem's numbers at all: `print(84)` states an answer, it does not
    compute one, and a sibling could not adapt it."""
    own = {n.value for n in numbers(problem)}
    return any(value in own for value in _literals(program) or [])


def steps(problem: str) -> dict[float, int]:
    """How `perturbed` moves each number of `problem`: the n-th distinct one (by value) by n, so two numbers
    never swap."""
    return {value: n for n, value in enumerate(sorted({n.value for n in numbers(problem)}), 1)}


def perturbed(program: str, problem: str) -> str | None:
    """`program` with every number of `problem` that it writes as a literal moved by its `steps`, the same in
    every program; None when it writes none of them or does not parse. A program that computes its answer
    from the problem prints another value now; one that states the answer (`print(84)`) cannot be moved at
    all. Two programs that agree on the problem and on its moved copy compute alike, not the same constant."""
    moves = steps(problem)
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    moved = 0
    for node in ast.walk(tree):
        value = _number(node)
        if value is not None and value in moves:
            assert isinstance(node, ast.Constant)
            node.value += moves[value]
            moved += 1
    return ast.unparse(tree) if moved else None


def _literals(program: str) -> list[float] | None:
    """The numbers a program writes as literals; None when it does not parse."""
    try:
        return [value for node in ast.walk(ast.parse(program)) if (value := _number(node)) is not None]
    except SyntaxError:
        return None


def _likeness(a: Number, b: Number) -> int:
    """Context words in common, a shared unit counting twice as much (`3 hours` and `5 hours`)."""
    return len(a.context & b.context) + (a.unit is not None and a.unit == b.unit)


def adapt(program: str, solved_problem: str, new_problem: str) -> str | None:
    """`program`, which solved `solved_problem`, with its named quantities set to `new_problem`'s numbers.
    None when no header line holds one of the solved problem's numbers, a header value is two of them, a
    number of the solved problem is left in the computation (it would not change with the problem), or the
    numbers cannot be matched."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    solved = numbers(solved_problem)
    pairs = match(solved, numbers(new_problem))
    if pairs is None:
        return None
    header: list[ast.Constant] = []
    rest: list[ast.stmt] = []
    for stmt in tree.body:
        value = None if rest else _header_value(stmt)
        if value is not None:
            header.append(value)
        elif rest or not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            rest.append(stmt)
    stated = {n.value for n in solved}
    if not header or any(_number(node) in stated for stmt in rest for node in ast.walk(stmt)):
        return None
    rebound = 0
    for value in header:  # a value the problem does not state (`minutes_per_hour = 60`) is a constant, kept
        at = [n.position for n in solved if n.value == value.value]
        if len(at) > 1:
            return None  # which of the problem's equal numbers it is cannot be told
        if at:
            value.value = _literal(pairs[at[0]].text)
            rebound += 1
    return ast.unparse(tree) if rebound else None


def _header_value(stmt: ast.stmt) -> ast.Constant | None:
    """The number of a `name = 12` line, or None for any other statement (the header ends there)."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    return stmt.value if _number(stmt.value) is not None else None


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _literal(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number
