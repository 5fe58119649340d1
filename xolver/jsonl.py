"""JSON Lines files of records: reading every good record (and each bad line with its number), and
appending records so that a process killed at any moment leaves only whole lines."""

from __future__ import annotations

import json
import os
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


def cut_torn_tail(path: Path) -> None:
    """Drop a last line a kill left half-written, so the next record starts on a line of its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def append_jsonl(path: Path, *records: BaseModel) -> None:
    """Append `records`, one JSON line each, with a single write, synced to disk before returning."""
    data = "".join(record.model_dump_json() + "\n" for record in records).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it in one write; a short write goes on where it stopped
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
