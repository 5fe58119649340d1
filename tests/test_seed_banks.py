"""The shipped seed banks: every record parses, every program runs and prints the answer it states, and no
problem of a bank is (or nearly is) a problem of a built-in benchmark set or of the tests' family set, so
seeding memory never hands the team an answer it is graded on."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from xolver.bench.datasets import BUILTIN_SIZES, load_problems
from xolver.memory.jsonl import read_experiences
from xolver.runtime import seed_banks
from xolver.team.parsing import as_number

BANKS = seed_banks("default")
ARITHMETIC = Path(__file__).parents[1] / "memory" / "arithmetic_programs.jsonl"
FAMILIES = Path(__file__).parent / "data" / "families.jsonl"
PROGRAM = re.compile(r"Program:\n```python\n(.*?)\n```\nAnswer: (.+)$", re.DOTALL)


def test_the_arithmetic_bank_ships_and_is_seeded_by_default() -> None:
    assert ARITHMETIC in BANKS and len(BANKS) >= 2
    experiences, bad = read_experiences(ARITHMETIC)
    assert bad == [] and len(experiences) >= 15
    assert all(e.kind == "solution" and e.source == "seed" and e.applies for e in experiences)


def programs() -> list[tuple[str, str, str]]:
    experiences, _ = read_experiences(ARITHMETIC)
    found = [(e.id or "", *PROGRAM.search(e.content).groups()) for e in experiences if PROGRAM.search(e.content)]
    assert len(found) == len(experiences), "every arithmetic solution is a program and its answer"
    return found


@pytest.mark.parametrize(("id_", "program", "answer"), programs(), ids=[p[0] for p in programs()])
def test_each_program_prints_the_answer_it_states(id_: str, program: str, answer: str) -> None:
    printed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=20, check=True)
    assert as_number(printed.stdout.strip()) == as_number(answer) is not None


def test_the_programs_name_their_quantities() -> None:
    """The form a sibling problem adapts: the numbers sit in named variables, not inside the arithmetic."""
    for id_, program, _ in programs():
        body = [line for line in program.splitlines() if not re.fullmatch(r"[a-z_]+ = [\d.]+|import \w+|", line)]
        literals = set(re.findall(r"\b\d+(?:\.\d+)?", "".join(body))) - {"1", "100"}  # whole and percent
        assert body and not literals, f"{id_}: {literals} in the arithmetic"


def words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z]+|\d+(?:\.\d+)?", text.lower()))


class Text:
    """A problem as the overlap check sees it: its word 3-shingles and its numbers."""

    def __init__(self, text: str) -> None:
        tokens = words(text)
        self.shingles = {tokens[i : i + 3] for i in range(max(1, len(tokens) - 2))}
        self.numbers = {t for t in tokens if t[0].isdigit()}

    def copies(self, other: Text) -> bool:
        """Mostly the same wording and the same numbers: the same problem, however reworded around them.
        The same wording with other numbers is a sibling, which is what a seed bank is for."""
        shared = len(self.shingles & other.shingles) / max(1, min(len(self.shingles), len(other.shingles)))
        return shared > 0.5 and self.numbers <= other.numbers


@cache
def held_out() -> list[tuple[str, Text]]:
    problems = [p for name in BUILTIN_SIZES for p in load_problems(name)[0]] + load_problems(FAMILIES)[0]
    return [(p.id, Text(p.text)) for p in problems]


def test_near_copies_are_caught() -> None:
    """The check itself can fail: a reworded copy of a family problem is found, a sibling is not."""
    target = next(t for i, t in held_out() if i == "speed-0")
    assert Text("A train covers 180 km in 3 hours at a steady pace. What is its speed in km/h?").copies(target)
    assert Text("A train covers 180 km in 3 hours. How fast does it go?").copies(target)
    assert not Text("A train covers 240 km in 4 hours at a steady pace. What is its speed in km per hour?").copies(
        target
    )


@pytest.mark.parametrize("bank", BANKS, ids=[b.name for b in BANKS])
def test_no_bank_problem_is_a_benchmark_or_family_problem(bank: Path) -> None:
    experiences, _ = read_experiences(bank)
    clashes = [
        (e.id, other)
        for e in experiences
        for other, theirs in held_out()
        if Text(e.problem).copies(theirs)
    ]
    assert clashes == []
