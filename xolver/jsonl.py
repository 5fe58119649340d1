"""Reading JSON Lines files of records: every good record, and each bad line with its number."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from xolver.errors import UserInputError

T = TypeVar("T")


class BadLine(BaseModel):
    line: int
    error: str


def read_jsonl(path: str | Path, parse: Callable[[dict[str, Any]], T]) -> tuple[list[T], list[BadLine]]:
    """`parse` turns one JSON object into a record; a line that is not one, or that `parse` rejects, is
    reported with its line number and skipped, and nothing else is lost."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    good: list[T] = []
    bad: list[BadLine] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError("a line must be a JSON object")
            good.append(parse(value))
        except json.JSONDecodeError as exc:
            bad.append(BadLine(line=number, error=f"not JSON: {exc.msg}"))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            bad.append(BadLine(line=number, error=f"{where}: {first['msg']}" if where else first["msg"]))
        except (ValueError, TypeError) as exc:
            bad.append(BadLine(line=number, error=str(exc)))
    return good, bad
