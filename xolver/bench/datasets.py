"""Problem files: JSON Lines, one problem a line (`id`, `problem`, and `answer` or `tests`)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from xolver.errors import UserInputError
from xolver.schema import Problem


class BadRecord(BaseModel):
    line: int
    error: str


def load_problems(path: str | Path) -> tuple[list[Problem], list[BadRecord]]:
    """Every valid problem in the file, and each malformed line with its number (the run goes on)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    problems: list[Problem] = []
    bad: list[BadRecord] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
            fields = {"id": record.pop("id", ""), "text": record.pop("problem", None) or record.pop("text", "")}
            problems.append(Problem(**fields, **record))
        except json.JSONDecodeError as exc:
            bad.append(BadRecord(line=number, error=f"not JSON: {exc.msg}"))
        except (ValidationError, ValueError, TypeError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            bad.append(BadRecord(line=number, error=message))
    return problems, bad
