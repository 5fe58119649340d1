"""Experiences as JSON Lines: one `Experience` per line. Bad lines are reported by number and skipped."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from xolver.jsonl import BadLine, read_jsonl
from xolver.schema import Experience


def read_experiences(path: str | Path) -> tuple[list[Experience], list[BadLine]]:
    """Every valid experience in the file, and what was wrong with each line that is not one."""
    return read_jsonl(path, Experience.model_validate)


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
