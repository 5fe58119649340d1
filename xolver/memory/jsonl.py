"""Experiences as JSON Lines. Bad lines are reported by number and skipped.

`read_experiences` reads the store's own format (one `Experience` per line, as `export` writes it);
`read_corpus` also reads the common solved-problem format of public corpora (`problem` or `question`,
`solution` or `generated_solution`, `answer`), turned into external solution records.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xolver.jsonl import BadLine, read_jsonl
from xolver.schema import Experience

_PROBLEM_FIELDS = ("problem", "question")
_SOLUTION_FIELDS = ("solution", "generated_solution")


def read_experiences(path: str | Path) -> tuple[list[Experience], list[BadLine]]:
    """Every valid experience in the file, and what was wrong with each line that is not one."""
    return read_jsonl(path, Experience.model_validate)


def corpus_record(line: dict[str, Any]) -> Experience:
    """One imported line: an `Experience` (from outside unless it names its source), or a solved problem.

    A solved problem becomes a solution record whose content is the worked solution and the final answer;
    its other fields (an id, a subject, a level) are kept as provenance.
    """
    if "kind" in line or "content" in line:
        return Experience.model_validate({"source": "external", **line})
    problem = next((line[f] for f in _PROBLEM_FIELDS if line.get(f)), None)
    solution = next((line[f] for f in _SOLUTION_FIELDS if line.get(f)), None)
    answer = line.get("answer")
    if not isinstance(problem, str) or not (solution or answer not in (None, "")):
        raise ValueError("neither an experience (kind, problem, content) nor a solved problem (problem, solution)")
    parts = [str(solution).strip()] if solution else []
    if answer not in (None, "") and (not parts or str(answer) not in parts[0][-200:]):
        parts.append(f"Answer: {answer}")
    known = {*_PROBLEM_FIELDS, *_SOLUTION_FIELDS, "answer", "task_kind"}
    provenance = {k: str(v) for k, v in line.items() if k not in known and isinstance(v, str | int | float)}
    if "id" in provenance:
        provenance["problem_id"] = provenance.pop("id")
    return Experience(
        kind="solution",
        problem=problem.strip(),
        content="\n".join(parts),
        task_kind=line.get("task_kind", "math"),
        source="external",
        provenance=provenance,
    )


def read_corpus(path: str | Path) -> tuple[list[Experience], list[BadLine]]:
    """Every record an import takes from the file (see `corpus_record`), and each bad line."""
    return read_jsonl(path, corpus_record)


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
