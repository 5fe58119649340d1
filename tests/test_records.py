"""Recorded runs on disk: the solves sidecar of a batch, saved solves, and reading either back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import good_team, make_xolver

from xolver import Problem
from xolver.bench.records import load_run, save_solves
from xolver.bench.runner import BenchRecord, Evaluator, run_benchmark, solves_path
from xolver.tools.grading import Grader

ENV = {**os.environ, "XOLVER_MEMORY": "false", "XOLVER_SANDBOX": "none", "XOLVER_RECALL": "false"}


def test_the_sidecar_is_named_beside_the_results() -> None:
    assert solves_path("runs/x.jsonl") == Path("runs/x.solves.jsonl")
    assert solves_path("results") == Path("results.solves.jsonl")


async def test_each_record_points_to_its_solve_and_the_results_stay_small(tmp_path: Path) -> None:
    problems = [Problem(id=f"p{i}", text=f"What is 347 times 29? ({i})", answer="10063") for i in range(3)]
    team = make_xolver(good_team(), iterations=1)
    out = tmp_path / "r.jsonl"
    await run_benchmark(problems, Evaluator("xolver", team.asolve, Grader()).evaluate, out)
    await team.aclose()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("solve" not in line and "calls" not in line and line["run_id"] for line in lines)
    run = load_run(out)
    assert run.kind == "results" and not run.bad
    for record in run.records:
        assert record.solve is not None and record.solve.run_id == record.run_id and record.solve.calls
    results, solves = out.stat().st_size, solves_path(out).stat().st_size
    assert results * 3 < solves, (results, solves)


async def test_a_solve_without_its_record_is_not_counted_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    """A kill between the sidecar's line and the record's: the problem is redone, its orphan ignored."""
    problems = [Problem(id="a", text="What is 347 times 29?", answer="10063")]
    team = make_xolver(good_team(), iterations=1)
    out = tmp_path / "r.jsonl"
    orphan = (await team.asolve(problems[0])).model_copy(update={"run_id": "orphan"})
    save_solves(solves_path(out), [orphan])
    with solves_path(out).open("a") as handle:
        handle.write('{"run_id": "torn", "prob')  # a kill mid-write
    await run_benchmark(problems, Evaluator("xolver", team.asolve, Grader()).evaluate, out)
    await team.aclose()
    run = load_run(out)
    assert not run.bad, "the torn line was cut before the next append"
    (record,) = run.records
    assert record.solve is not None and record.solve.run_id not in ("orphan", "torn")


def test_a_record_whose_solve_failed_has_none(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    record = BenchRecord(id="x", method="cot", status="solve_failed", correct=None, answer=None, seconds=1.0,
                         error="ModelError: boom")  # fmt: skip
    out.write_text(record.model_dump_json() + "\n")
    (loaded,) = load_run(out).records
    assert loaded.solve is None and loaded.error == "ModelError: boom"


def test_solve_save_view_and_replay_a_fake_server_run(tmp_path: Path, fake_server: str) -> None:
    """Solves recorded through litellm against the fake server, then viewed and replayed with no server."""
    saved = tmp_path / "solves.jsonl"
    for question in ("What is 347 times 29?", "What is 347 times 30?"):
        done = subprocess.run([sys.executable, "-m", "xolver.cli", "solve", question, "--model", "openai/fake",
                               "--api-base", fake_server, "-m", "2", "-I", "2", "--save", str(saved)],
                              capture_output=True, text=True, env=ENV, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"saved to {saved}" in done.stderr
    run = load_run(saved)
    assert run.kind == "solves" and [r.answer for r in run.records] == ["10063", "10063"]
    assert all(r.solve and r.solve.calls and r.solve.calls[0].started_at for r in run.records)
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "xolver.cli", "view", str(saved), "--out", str(site)],
                          capture_output=True, text=True, env=ENV, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list((site / "runs" / "solves").glob("*.html"))) == 3
    env = {**ENV, "OPENAI_API_BASE": "http://127.0.0.1:9/v1"}  # nothing answers there: no model is asked
    done = subprocess.run([sys.executable, "-m", "xolver.cli", "replay", str(saved)], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": identical") == 2
