"""The batch runner: problem files with bad lines, one whole line per problem, and resuming after kills."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import good_team, make_xolver

from xolver.bench import load_problems, run_benchmark
from xolver.bench.records import load_run
from xolver.bench.runner import Evaluator, finished_ids
from xolver.tools.grading import Grader


def test_bad_problem_lines_are_reported_by_number(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "problem": "2+2?", "answer": "4"}\n[1, 2]\n{"id": "b"}\n{oops\n\n'
                    '{"id": "c", "problem": "x", "kind": "poetry"}\n{"problem": "3+3?", "answer": "6"}\n')  # fmt: skip
    problems, bad = load_problems(path)
    assert problems[0].id == "a" and len(problems) == 2 and problems[1].id.startswith("p-")
    assert [b.line for b in bad] == [2, 3, 4, 6]
    assert "not JSON" in bad[2].error and "'math', 'code' or 'general'" in bad[3].error


async def test_records_are_written_and_a_rerun_skips_them(tmp_path: Path) -> None:
    problems, _ = load_problems_from(tmp_path, [("a", "What is 347 times 29?", "10063"), ("b", "2+2?", "5")])
    out = tmp_path / "out.jsonl"
    evaluate = evaluator(make_xolver(good_team(), iterations=1).asolve)
    written = await run_benchmark(problems, evaluate, out)
    by_id = {r.id: r for r in written}
    assert by_id["a"].correct is True and by_id["b"].correct is False and by_id["a"].usage.calls > 0
    assert by_id["a"].config.settings.agents == 3 and by_id["a"].config.method == "xolver"
    assert by_id["a"].status == "graded" and by_id["b"].status == "graded"
    assert by_id["a"].iteration_correct == [True] and by_id["a"].dataset == "set"
    assert await run_benchmark(problems, evaluate, out) == []
    assert len(out.read_text().splitlines()) == 2


async def test_a_failing_problem_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    problems, _ = load_problems_from(tmp_path, [("a", "2+2?", "4"), ("b", "3+3?", "6")])

    async def solve(problem):
        if problem.id == "a":
            raise RuntimeError("boom")
        return await make_xolver(good_team(answer="6"), iterations=1).asolve(problem)

    written = await run_benchmark(problems, evaluator(solve), tmp_path / "out.jsonl")
    by_id = {r.id: r for r in written}
    assert by_id["a"].error == "RuntimeError: boom" and by_id["a"].status == "solve_failed"
    assert by_id["a"].correct is None, "a crash is not a wrong answer"
    assert by_id["b"].correct is True


async def test_a_torn_last_line_is_cut_and_redone(tmp_path: Path) -> None:
    problems, _ = load_problems_from(tmp_path, [("a", "2+2?", "4"), ("b", "What is 347 times 29?", "10063")])
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "method": "xolver"}\n{"id": "b", "met')
    assert finished_ids(out) == {"a"}
    await run_benchmark(problems, evaluator(make_xolver(good_team(), iterations=1).asolve), out)
    lines = out.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]


async def test_a_lost_worker_is_recorded_through_on_error(tmp_path: Path) -> None:
    problems, _ = load_problems_from(tmp_path, [("a", "2+2?", "4"), ("b", "3+3?", "6")])
    good = evaluator(make_xolver(good_team(answer="6"), iterations=1).asolve)

    async def evaluate(problem):
        if problem.id == "a":
            raise ConnectionError("worker died")
        return await good(problem)

    with pytest.raises(ExceptionGroup):
        await run_benchmark(problems, evaluate, tmp_path / "strict.jsonl")
    on_error = Evaluator("xolver", good, Grader()).failed
    written = await run_benchmark(problems, evaluate, tmp_path / "out.jsonl", on_error=on_error)
    by_id = {r.id: r for r in written}
    assert by_id["a"].error == "ConnectionError: worker died" and by_id["a"].status == "solve_failed"
    assert by_id["a"].correct is None
    assert by_id["b"].correct is True


def evaluator(solve):
    return Evaluator("xolver", solve, Grader(), dataset="set").evaluate


def load_problems_from(tmp_path: Path, rows: list[tuple[str, str, str]]):
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps({"id": i, "problem": p, "answer": a}) + "\n" for i, p, a in rows))
    return load_problems(path)


def test_a_run_killed_three_times_resumes_with_every_id_exactly_once(tmp_path: Path, fake_server: str) -> None:
    dataset = tmp_path / "set.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} times 3?", "answer": str(3 * i)})
                               + "\n" for i in range(24)))  # fmt: skip
    out = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "xolver.cli", "bench", "run", "--dataset", str(dataset), "--out", str(out),
               "--model", "openai/fake", "--api-base", fake_server, "--concurrency", "4",
               "-m", "2", "-I", "1"]  # fmt: skip
    env = {**os.environ, "XOLVER_MEMORY": "false", "XOLVER_SANDBOX": "none", "XOLVER_RECALL": "false"}
    rng = random.Random(11)
    for _ in range(3):
        before = len(finished_ids(out))
        run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        target = before + rng.randint(1, 4)
        while len(finished_ids(out)) < target and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert 0 < len(finished_ids(out)) < 24, "the kills landed mid-run"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines() if line.strip()]
    assert sorted(ids) == sorted(f"q{i}" for i in range(24)), "every id exactly once"
    saved = load_run(out)
    assert not saved.bad and all(r.solve is not None and r.solve.problem.id == r.id for r in saved.records), (
        "every finished problem's whole solve survived the kills"
    )
