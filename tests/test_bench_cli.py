"""`xolver bench run` and `xolver bench report` as a user runs them, against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {"XOLVER_MEMORY": "false", "XOLVER_SANDBOX": "none", "XOLVER_RECALL": "false"}


def xolver(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xolver.cli", *args], env={**os.environ, **ENV},
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def problem_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "set.jsonl"
    rows = [
        {"id": f"q{i}", "problem": f"What is 347 times {29 + i}?", "answer": str(347 * (29 + i))} for i in range(count)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_baselines_run_and_the_report_compares_them(tmp_path: Path, fake_server: str) -> None:
    dataset = problem_file(tmp_path, 3)  # the fake server always answers 10063 = 347 * 29: q0 only is right
    outs = []
    for method in ("sc", "self-refine", "xolver"):
        out = tmp_path / f"{method}.jsonl"
        done = xolver("bench", "run", "--dataset", str(dataset), "--method", method, "--out", str(out),
                      "--samples", "3", "--model", "openai/fake", "--api-base", fake_server, "-m", "2", "-I", "2",
                      "--budget", "100000")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "accuracy 33.3% (1/3)" in done.stdout and "left" in done.stdout
        assert [r["correct"] for r in sorted(records(out), key=lambda r: r["id"])] == [True, False, False]
        assert {r["config"]["method"] for r in records(out)} == {method}
        assert {r["config"]["settings"]["budget"] for r in records(out)} == {100000}
        outs.append(str(out))
    assert {r["config"]["settings"]["samples"] for r in records(tmp_path / "sc.jsonl")} == {3}
    report = xolver("bench", "report", *outs, "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    for method in ("sc", "self-refine", "xolver"):
        label = f"{method} (off)" if method == "xolver" else method
        assert f"| {label} [{method}] | openai/fake | 3 | 33.3% | 1/3 | 0 |" in text
    assert (tmp_path / "report" / "convergence.png").exists()


def test_builtin_aime24_direct_limit_3(tmp_path: Path, fake_server: str) -> None:
    out = tmp_path / "aime.jsonl"
    done = xolver("bench", "run", "--dataset", "aime24", "--method", "direct", "--limit", "3", "--out", str(out),
                  "--model", "openai/fake", "--api-base", fake_server)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = records(out)
    assert len(rows) == 3 and {r["dataset"] for r in rows} == {"aime24"} and all(r["reference"] for r in rows)
    assert all(r["correct"] is False and r["answer"] == "10063" for r in rows)


def test_bad_input_gets_one_line(tmp_path: Path) -> None:
    done = xolver("bench", "run", "--dataset", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.jsonl"))
    assert done.returncode == 2 and "cannot read" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "junk.jsonl").write_text("not json\n")
    done = xolver("bench", "report", str(tmp_path / "junk.jsonl"), "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and "junk.jsonl:1: skipped" in done.stderr and "no records" in done.stderr


def test_memory_that_is_not_there_is_refused_not_created(tmp_path: Path) -> None:
    """`--memory` continues a store: a mistyped path must not open a fresh seeded one and report it as the
    store the user named (a read-only run would then look clean while reading nothing it was told to)."""
    dataset = problem_file(tmp_path, 1)
    for store in (tmp_path / "typo.memory", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        done = xolver("bench", "run", "--dataset", str(dataset), "--out", str(tmp_path / "o.jsonl"),
                      "--memory-mode", "read-only", "--memory", str(store))  # fmt: skip
        assert done.returncode == 2 and "no experience store there" in done.stderr, done.stderr
        assert not (tmp_path / "typo.memory").exists() and not any((tmp_path / "empty").iterdir())
        assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
def test_a_run_over_a_local_ray_instance(tmp_path: Path, fake_server: str) -> None:
    pytest.importorskip("ray", reason="Ray is the optional extra xolver[ray]")
    dataset = problem_file(tmp_path, 8)
    out = tmp_path / "ray.jsonl"
    out.write_text(json.dumps({"id": "q0", "method": "cot", "correct": True, "answer": "10063", "seconds": 1}) + "\n")
    done = xolver("bench", "run", "--dataset", str(dataset), "--method", "cot", "--out", str(out), "--executor", "ray",
                  "--workers", "2", "--concurrency", "4", "--model", "openai/fake", "--api-base", fake_server,
                  timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = records(out)
    assert sorted(r["id"] for r in rows) == [f"q{i}" for i in range(8)], "every id exactly once, q0 resumed"
    assert all(r["correct"] is False and r["error"] is None for r in rows[1:])
    assert "7 problems solved now, 1 already in" in done.stdout
    solves = {json.loads(line)["run_id"] for line in (tmp_path / "ray.solves.jsonl").read_text().splitlines()}
    assert {r["run_id"] for r in rows[1:]} <= solves, "each worker's whole solve reaches the driver's sidecar"
