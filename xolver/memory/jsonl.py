"""Experiences as JSON Lines: one `Experience` per line. Bad lines are reported by number and skipped."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from xolver.errors import UserInputError
from xolver.schema import Experience


class BadLine(BaseModel):
    line: int
    error: str


def read_experiences(path: str | Path) -> tuple[list[Experience], list[BadLine]]:
    """Every valid experience in the file, and what was wrong with each line that is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    good: list[Experience] = []
    bad: list[BadLine] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            good.append(Experience.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            bad.append(BadLine(line=number, error=f"not JSON: {exc.msg}"))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            bad.append(BadLine(line=number, error=f"{where}: {first['msg']}"))
    return good, bad


def write_experiences(path: str | Path, experiences: Iterable[Experience]) -> int:
    """Write atomically (a temporary file renamed into place), so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for experience in experiences:
                out.write(experience.model_dump_json() + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
