"""Tolerant readers for model replies. Small models answer badly; nothing here raises on a bad reply.

Each function returns `None` (or an empty list) when the reply does not contain what it looks for, and
the caller decides what that means: a fallback, a retry, or an `unparsed` record.
"""

from __future__ import annotations

import json
import re

from xolver.schema import Role, TaskKind

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|=|:)\s*:?\s*\**\s*\$?([^\n$]+?)\$?\s*\**\s*(?:\.(?=\s|$)|$)",
    re.IGNORECASE | re.MULTILINE,
)
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_SCORE = re.compile(
    r"score\W{0,4}(?:is|of|=)?\s*\**\s*(\d+(?:\.\d+)?|\.\d+)\s*\**\s*(?:(?:/|out of)\s*(\d+(?:\.\d+)?))?",
    re.IGNORECASE,
)
_ROLE_LINE = re.compile(
    r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))?\s*\**\s*([A-Za-z][A-Za-z0-9 '/&-]{1,48}?)\s*\**\s*[:–—-]\s*\**\s*(\S.{2,})$"
)
_PLACEHOLDERS = {"answer", "your answer", "final answer", "...", "x"}
_NOT_ROLE_NAMES = {"problem", "role", "roles", "name", "focus", "answer", "solution", "note", "step", "team"}


def extract_boxed(text: str) -> str | None:
    r"""The content of the last `\boxed{...}` (or `\fbox{...}`), with nested braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, begin = 1, i
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[begin:i].strip() or None
        i += 1
    return None  # unbalanced: the reply was cut off


def extract_code(text: str) -> str | None:
    """The last fenced Python block (an unterminated final block counts: replies get cut off)."""
    blocks = [b.strip() for b in _CODE_BLOCK.findall(text) if b.strip()]
    return blocks[-1] if blocks else None


def without_code(text: str) -> str:
    """The prose of a reply: its fenced code blocks removed (a number inside a program is not an answer)."""
    return _CODE_BLOCK.sub("\n", text)


def extract_answer(text: str, kind: TaskKind) -> str | None:
    """The final answer of a math or general reply: boxed, else an 'answer is' phrase, else the last number."""
    if kind == "code":
        return extract_code(text)
    boxed = extract_boxed(text)
    if boxed is not None and boxed.lower() not in _PLACEHOLDERS:
        return boxed
    phrases = [p.strip().rstrip(".").strip() for p in _ANSWER_PHRASE.findall(text)]
    # a math answer has a digit or some LaTeX; "the answer is just another way..." is prose
    phrases = [p for p in phrases if p and "boxed" not in p and (kind != "math" or re.search(r"[\d\\]", p))]
    if phrases:
        return phrases[-1]
    numbers = _NUMBER.findall(text)
    return numbers[-1].rstrip(".,") if numbers and kind == "math" else None


def canonical_answer(answer: str | None) -> str | None:
    r"""A normal form for telling whether two answers agree (grading proper uses math-verify)."""
    if answer is None:
        return None
    s = answer.strip().strip("$").strip()
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\s+", "", s).rstrip(".")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    if re.fullmatch(r"-?\d+\.0+", s):
        s = s.split(".")[0]
    return s.lower() or None


def as_number(answer: str | None) -> float | None:
    """A plain numeric answer as a number ('1,200', '$8', '3/4', '12.50', '-7'); None for anything else."""
    s = canonical_answer(answer)
    if s is None:
        return None
    s = s.lstrip("$").rstrip("%").replace("\\$", "")
    fraction = re.fullmatch(r"(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", s)
    if fraction:
        denominator = float(fraction.group(2))
        return float(fraction.group(1)) / denominator if denominator else None
    frac = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", s)
    if frac and int(frac.group(3)):
        return (-1 if frac.group(1) else 1) * float(frac.group(2)) / float(frac.group(3))
    try:
        return float(s)
    except ValueError:
        return None


def parse_score(text: str) -> float | None:
    """The last 'Score: S' in a judge reply, scaled into [0, 1] ('7/10', '70', '0.7' all read 0.7)."""
    matches = _SCORE.findall(text)
    if not matches:
        return None
    value_text, denominator_text = matches[-1]
    value = float(value_text)
    if denominator_text:
        denominator = float(denominator_text)
        value = value / denominator if denominator > 0 else -1.0
    elif value > 1:
        value = value / 10 if value <= 10 else value / 100
    return value if 0.0 <= value <= 1.0 else None


def parse_json_lines(text: str) -> list[dict[str, object]]:
    """Every JSON object written on a line of its own (code fences and chatter around them ignored)."""
    found: list[dict[str, object]] = []
    for line in text.splitlines():
        line = line.strip().rstrip(",")
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def parse_roles(text: str) -> list[Role]:
    """Roles written one per line as 'Name: focus' (bullets, numbers and bold markers tolerated)."""
    roles: list[Role] = []
    seen: set[str] = set()
    for line in text.splitlines():
        match = _ROLE_LINE.match(line.strip())
        if not match:
            continue
        name = match.group(1).strip(" *-")
        focus = match.group(2).strip(" *")
        key = name.lower()
        if key in seen or key in _NOT_ROLE_NAMES or len(name.split()) > 5:
            continue
        seen.add(key)
        roles.append(Role(name=name, focus=focus[:200]))
    return roles


def parse_selection(text: str, count: int) -> list[int]:
    """Distinct 1-based choices in [1, count], in the order written, returned 0-based."""
    picked: list[int] = []
    for token in re.findall(r"\d+", text):
        index = int(token) - 1
        if 0 <= index < count and index not in picked:
            picked.append(index)
    return picked
