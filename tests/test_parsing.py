"""Tolerant reply parsing: what small models actually write."""

from __future__ import annotations

import pytest

from xolver.team.parsing import (
    canonical_answer,
    extract_answer,
    extract_boxed,
    extract_code,
    parse_roles,
    parse_score,
    parse_selection,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{10063}.", "10063"),
        (r"\boxed{\frac{1}{2}} then \boxed{\frac{3}{4}}", r"\frac{3}{4}"),
        (r"\boxed{ {a}^{2} + 1 }", "{a}^{2} + 1"),
        (r"\fbox{7}", "7"),
        (r"\boxed{12", None),  # cut off mid-answer
        ("no box at all", None),
        (r"\boxed{}", None),
    ],
)
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        (r"The answer is \boxed{42}", "math", "42"),
        ("Final answer: 17.", "math", "17"),
        ("The answer is **$3.5$**.", "math", "3.5"),
        ("So the answer is: 80", "math", "80"),
        ("first 3 then 4 and finally 10,063", "math", "10,063"),
        ("nothing numeric", "math", None),
        ("no number, general", "general", None),
        ("Answer: Paris", "general", "Paris"),
        (r"7 * 3 = 21. The answer is \boxed{answer}.", "math", "21"),  # the instruction copied
        ("The answer is just another way of saying it. 12 * 2 = 24", "math", "24"),
    ],
)
def test_extract_answer(text: str, kind: str, expected: str | None) -> None:
    assert extract_answer(text, kind) == expected  # type: ignore[arg-type]


def test_extract_code_takes_the_last_block_and_tolerates_a_cut_off_one() -> None:
    text = "```python\nx = 1\n```\nbetter:\n```py\nx = 2\n```"
    assert extract_code(text) == "x = 2"
    assert extract_code("```python\nprint(1)\nprint(2)") == "print(1)\nprint(2)"
    assert extract_code("```\nplain = True\n```") == "plain = True"
    assert extract_code("no code") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score: 1", 1.0),
        ("score: 0.35", 0.35),
        ("**Score:** 7/10", 0.7),
        ("Score = 8", 0.8),
        ("Score: 85", 0.85),
        ("score 3 out of 4", 0.75),
        ("Score: .5", 0.5),
        ("Score: 0.2\n...revised Score: 0.9", 0.9),
        ("Score: 500", None),
        ("Score: 3/0", None),
        ("The solution is correct.", None),
        ("", None),
    ],
)
def test_parse_score(text: str, expected: float | None) -> None:
    assert parse_score(text) == (pytest.approx(expected) if expected is not None else None)


def test_parse_roles_tolerates_bullets_numbers_and_bold() -> None:
    text = """Here are the roles:
1. Algebraist: sets up equations
- **Number Theorist**: divisibility and primes
* Checker - verifies each step
(4) Geometer – draws the figure
Role: this line is a header, not a role
Algebraist: duplicate is dropped
This sentence is far too long to be the name of a role and has no colon
"""
    roles = parse_roles(text)
    assert [r.name for r in roles] == ["Algebraist", "Number Theorist", "Checker", "Geometer"]
    assert roles[1].focus == "divisibility and primes"


def test_parse_roles_of_garbage_is_empty() -> None:
    assert parse_roles("!!!\n\n???") == []


def test_parse_selection() -> None:
    assert parse_selection("I pick 3, 1 and 3 again, and 9", 4) == [2, 0]
    assert parse_selection("none", 4) == []


@pytest.mark.parametrize(
    ("a", "b"),
    [("10,063", "10063"), ("$5$", "5"), ("5.0", "5"), (r"\dfrac{1}{2}", r"\frac{1}{2}"), (r"\text{Yes}", "yes")],
)
def test_canonical_answer_equates_trivial_variants(a: str, b: str) -> None:
    assert canonical_answer(a) == canonical_answer(b)


def test_canonical_answer_keeps_different_answers_apart() -> None:
    assert canonical_answer("1/2") != canonical_answer("2")
    assert canonical_answer(None) is None


@pytest.mark.parametrize(
    "text",
    ["The final answer of the proposed solution is correct.", "This is right.", "The answer is wrong.",
     "It is correct in places but wrong at the end.", "Looks fine to me."],
)  # fmt: skip
def test_a_judge_reply_without_a_score_has_none_whatever_words_it_uses(text: str) -> None:
    """'correct' in a judge's prose was read as 1.0: a liar's self-praise became a full score."""
    assert parse_score(text) is None
