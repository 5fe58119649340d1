"""Problem files: JSON Lines, one problem a line (`id`, `problem`, and `answer` or `tests`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xolver.jsonl import BadLine, read_jsonl
from xolver.schema import Problem


def _problem(record: dict[str, Any]) -> Problem:
    fields = {"id": record.pop("id", ""), "text": record.pop("problem", None) or record.pop("text", "")}
    return Problem(**fields, **record)


def load_problems(path: str | Path) -> tuple[list[Problem], list[BadLine]]:
    """Every valid problem in the file, and each malformed line with its number (the run goes on)."""
    return read_jsonl(path, _problem)
