"""Recorded runs on disk: a batch's results file with its solves beside it, or saved solves.

Two formats, one kind of line. `xolver bench run --out x.jsonl` writes a `BenchRecord` per problem to
`x.jsonl` and its whole `SolveResult` to `x.solves.jsonl`; `xolver solve --save FILE` and chat's `/save`
write `SolveResult` lines alone. The viewer and `xolver replay` read either through `load_run`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from xolver.bench.runner import BenchRecord, solves_path
from xolver.errors import UserInputError
from xolver.jsonl import BadLine, append_jsonl, read_jsonl
from xolver.schema import SolveResult


@dataclass
class SavedRun:
    """A run as read back: one record per problem, each with its whole solve in `record.solve` when one was
    kept (a failed solve has none); lines that could not be read, by file and number."""

    path: Path
    kind: Literal["results", "solves"]
    records: list[BenchRecord]
    bad: list[tuple[Path, BadLine]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".jsonl")


def save_solves(path: str | Path, results: Sequence[SolveResult], *, append: bool = True) -> Path:
    """Write solves as JSON lines: appended (synced, whole lines only), or replacing the file at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if append:
        append_jsonl(path, *results)
        return path
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(result.model_dump_json() + "\n" for result in results)
    os.replace(temporary, path)
    return path


def record_of_solve(result: SolveResult) -> BenchRecord:
    """A saved solve as a row of a run: ungraded, as nothing beside it says the right answer."""
    return BenchRecord.of(
        result, method=result.config.method, dataset=None, reference=None, seconds=result.wall_seconds,
        status="ungraded", correct=None,
    )  # fmt: skip


def _is_solves(path: Path) -> bool:
    """A file of saved solves (their lines hold the problem) rather than a results file."""
    with path.open(encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), "")
    try:
        value = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and "problem" in value and "run_id" in value


def load_run(path: str | Path) -> SavedRun:
    """A results file with the solves of its sidecar, or a file of saved solves."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"no such file: {path}")
    if _is_solves(path):
        solves, bad = read_jsonl(path, SolveResult.model_validate)
        return SavedRun(path, "solves", [record_of_solve(solve) for solve in solves], [(path, line) for line in bad])
    records, bad = read_jsonl(path, BenchRecord.model_validate)
    problems = [(path, line) for line in bad]
    by_run: dict[str, SolveResult] = {}
    sidecar = solves_path(path)
    if sidecar.is_file():
        solves, bad_solves = read_jsonl(sidecar, SolveResult.model_validate)
        by_run = {solve.run_id: solve for solve in solves}
        problems += [(sidecar, line) for line in bad_solves]
    latest = {record.id: record for record in records}  # a problem given twice: the last record counts
    joined = [record.model_copy(update={"solve": by_run.get(record.run_id or "")}) for record in latest.values()]
    return SavedRun(path, "results", joined, problems)


def load_runs(paths: Iterable[str | Path]) -> list[SavedRun]:
    return [load_run(path) for path in paths]
