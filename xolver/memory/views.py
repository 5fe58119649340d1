"""What a record is searched by (its views) and which solved problem it belongs to.

A record is embedded several times, once per view: the problem it came from, its content (the solution,
the insight or the code) and its "when this applies" key, the situation in general terms. A query that
describes the situation in other words than the stored problem often meets the key or the content
instead; the store fuses the views of one record into one similarity.

Records of one solved problem (its solution, strategy and code) share a problem key, so retrieval gives
each problem one slot. The same key, and a near-exact test, keep the problem being solved out of its own
exemplars.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from typing import Literal

from xolver.schema import Experience

ViewName = Literal["problem", "content", "applies", "record"]
DEFAULT_VIEWS: tuple[ViewName, ...] = ("problem", "content", "applies")
NEAR_EXACT = 0.9  # word-sequence similarity above which two texts with the same numbers are one problem


def record_text(experience: Experience) -> str:
    """One text for the whole record: the problem for a solution, the insight and its problem otherwise."""
    if experience.kind == "solution":
        return experience.problem
    return f"{experience.content}\n{experience.problem}"


VIEW_TEXT: dict[ViewName, Callable[[Experience], str]] = {
    "problem": lambda e: e.problem,
    "content": lambda e: e.content,
    "applies": lambda e: e.applies,
    "record": record_text,
}


def view_texts(experience: Experience, views: Sequence[ViewName]) -> list[tuple[ViewName, str]]:
    """The record's text for each view it has (an empty key is no view)."""
    texts = [(view, VIEW_TEXT[view](experience).strip()) for view in views]
    return [(view, text) for view, text in texts if text]


def lexical_text(experience: Experience, views: Sequence[ViewName]) -> str:
    """What BM25 indexes: every view's words."""
    return "\n".join(text for _, text in view_texts(experience, views))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+(?:\.\d+)?", text.lower())


def problem_hash(text: str) -> str:
    """A problem text's identity up to case, spacing, punctuation and markup."""
    return hashlib.sha256(" ".join(_words(text)).encode()).hexdigest()[:16]


def problem_key(experience: Experience) -> str:
    """The solved problem a record belongs to: the problem id the learner recorded, else its text."""
    problem_id = experience.provenance.get("problem_id")
    return f"id:{problem_id}" if problem_id else f"text:{problem_hash(experience.problem)}"


def same_problem(a: str, b: str) -> bool:
    """Whether two problem texts are one problem: equal up to case, spacing, punctuation and markup, or
    the same numbers in nearly the same words. A sibling with other numbers is another problem."""
    wa, wb = _words(a), _words(b)
    if wa == wb:
        return True
    numbers_a = sorted(w for w in wa if w[0].isdigit())
    numbers_b = sorted(w for w in wb if w[0].isdigit())
    return numbers_a == numbers_b and SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= NEAR_EXACT
