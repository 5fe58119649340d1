"""The memory CLI with the real MiniLM embedder: 1,000 records, restart, same results; export and import."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from xolver import Experience

pytestmark = pytest.mark.slow

TOPICS = ["train speed", "apples and oranges", "circle area", "prime factors", "interest rate", "dice probability",
          "triangle angles", "sum of series", "work rate pipes", "ages of siblings"]  # fmt: skip


def xolver(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "xolver.cli", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def test_import_restart_search_export_import(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines = []
    for _ in range(1000):
        topic = rng.choice(TOPICS)
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        kind = rng.choice(["solution", "strategy", "code_fragment"])
        problem, content = f"A {topic} problem with {a} and {b}", f"Use {topic}: {a * b}"
        experience = Experience(kind=kind, problem=problem, content=content, verified=True, source="external")
        lines.append(experience.model_dump_json())
    source = tmp_path / "thousand.jsonl"
    source.write_text("\n".join(lines) + "\n")
    store = ["--memory-dir", str(tmp_path / "store")]

    assert "imported 1000 experiences" in xolver("memory", "import", str(source), *store).stdout
    query = ["memory", "search", "A train speed problem with 40 and 7", "--k", "5", "--json", *store]
    first = json.loads(xolver(*query).stdout)
    second = json.loads(xolver(*query).stdout)  # a new process: the store was reopened from disk
    assert first == second and len(first) >= 5
    assert {"id", "kind", "content", "score"} <= first[0].keys()
    assert "train speed" in first[0]["content"]

    stats = json.loads(xolver("memory", "stats", "--json", *store).stdout)
    assert stats["count"] == 1000 and sum(stats["kinds"].values()) == 1000

    exported = tmp_path / "export.jsonl"
    xolver("memory", "export", str(exported), *store)
    empty = ["--memory-dir", str(tmp_path / "empty")]
    xolver("memory", "import", str(exported), *empty)
    assert json.loads(xolver("memory", "stats", "--json", *empty).stdout)["count"] == 1000
