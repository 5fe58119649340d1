"""`xolver replay`: recorded solves run again on today's code against their recorded replies, with no model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from recorded import record_run

import xolver.team.judge
import xolver.team.solver
from xolver.bench.records import load_run
from xolver.bench.replay import changes_between, describe, replay_records, summarize
from xolver.team.parsing import extract_answer


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    from xolver.llm.testing import block_model_requests

    with block_model_requests():
        return asyncio.run(record_run(tmp_path_factory.mktemp("run") / "toy.jsonl"))


def test_the_recorded_run_holds_every_kind_of_event(recorded: Path) -> None:
    """The replay tests below mean something only if the recording is varied."""
    run = load_run(recorded)
    records = {r.id: r for r in run.records}
    assert len(records) == 20 and all(r.solve is not None for r in records.values())
    correct = [r.correct for r in records.values()]
    assert correct.count(False) >= 2 and correct.count(True) > 10
    assert records["q03"].iteration_correct == [False, True], "an answer corrected in round 2"
    solves = [r.solve for r in records.values() if r.solve is not None]
    assert {s.problem.kind for s in solves if s.runs} == {"math", "code"}, "programs of math solvers and coders"
    assert any(s.exemplars for s in solves) and any(s.memory_writes for s in solves)
    assert records["q09"].judge_failures > 0
    assert any(c.error for r in solves for i in r.iterations for c in i.candidates)


async def test_replaying_a_recorded_20_problem_run_gives_identical_results(recorded: Path) -> None:
    run = load_run(recorded)
    replays = await replay_records(run.records)
    assert [describe(r) for r in replays] == [f"{r.id}: identical" for r in run.records]
    assert all(r.exact > 0 and r.nearest == r.missing == r.unasked == r.runs_missing == 0 for r in replays)
    for record, replayed in zip(run.records, replays, strict=True):
        assert replayed.result is not None and record.solve is not None
        assert replayed.result.answer == record.solve.answer
        assert [c.text for c in replayed.result.calls] == [c.text for c in record.solve.calls] or sorted(
            c.text for c in replayed.result.calls
        ) == sorted(c.text for c in record.solve.calls)
        assert len(replayed.result.runs) == len(record.solve.runs)
    assert summarize(replays).startswith("20 replayed: 20 identical, 0 changed, 0 not replayed; correct")


async def test_a_parser_change_shows_up_as_a_diff(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'new' answer parser that reads only a reply's first line (where these replies hold no answer)."""

    def first_line(text: str, kind: str) -> str | None:
        return extract_answer(text.strip().splitlines()[0], kind)  # type: ignore[arg-type]

    monkeypatch.setattr(xolver.team.solver, "extract_answer", first_line)
    run = load_run(recorded)
    replays = {r.id: r for r in await replay_records(run.records)}
    q00 = replays["q00"]
    assert not q00.identical
    answers = [c for c in q00.changes if c.what == "round 1 Algebraist answer"]
    assert answers and (answers[0].before, answers[0].after) == ("360", "none")
    assert q00.correct_before is True
    assert all(r.identical for r in replays.values() if r.id.startswith("c")), "code problems do not use it"
    assert "correct" in summarize(list(replays.values()))


async def test_a_judge_parser_change_shows_in_scores_and_stop_reason(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xolver.team.judge, "parse_score", lambda reply: 0.5 if "Score" in reply else None)
    replays = await replay_records([r for r in load_run(recorded).records if r.id == "q00"])
    changed = {c.what: (c.before, c.after) for c in replays[0].changes}
    assert changed["round 1 Algebraist score"] == ("1.00", "0.50")
    assert changed["stop reason"] == ("converged", "stable") or "rounds" in changed


async def test_a_changed_prompt_takes_the_nearest_reply_and_strict_refuses_it(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = xolver.team.solver.render

    def new_rule(name: str, **values: str) -> str:
        return render(name, **values) + ("\nBe brief." if name == "solver" else "")

    monkeypatch.setattr(xolver.team.solver, "render", new_rule)
    records = [r for r in load_run(recorded).records if r.id in ("q00", "q03")]
    loose = await replay_records(records)
    assert all(r.nearest > 0 and r.missing == 0 and not r.changes for r in loose)
    assert all(describe(r).endswith("replies matched to changed prompts]") for r in loose)
    strict = await replay_records(records, strict=True)
    assert all(r.error is not None and "no recorded reply for this solver request" in r.error for r in strict)


def test_changes_between_ignores_ids_and_times(recorded: Path) -> None:
    solve = load_run(recorded).records[0].solve
    assert solve is not None
    copy = solve.model_copy(update={"run_id": "other", "wall_seconds": 99.0})
    assert changes_between(solve, copy) == []
    assert [c.what for c in changes_between(solve, copy.model_copy(update={"answer": "1"}))] == ["answer"]


def test_the_replay_command(recorded: Path, tmp_path: Path) -> None:
    env = {**os.environ, "XOLVER_MEMORY": "false", "XOLVER_SANDBOX": "none"}
    done = subprocess.run([sys.executable, "-m", "xolver.cli", "replay", str(recorded), "--id", "q03", "--id", "c1",
                           "--save", str(tmp_path / "again.jsonl")], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["q03: identical", "c1: identical"]
    assert "2 replayed: 2 identical" in done.stderr
    assert [r.id for r in load_run(tmp_path / "again.jsonl").records] == ["q03", "c1"]
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(recorded.read_text())
    sidecar = recorded.with_name("toy.solves.jsonl").read_text().replace("boxed{360}", "boxed{361}")
    (tmp_path / "tampered.solves.jsonl").write_text(sidecar)
    done = subprocess.run([sys.executable, "-m", "xolver.cli", "replay", str(tampered), "--id", "q00"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 1 and done.stdout.startswith("q00: answer '360' -> '361'")
    assert "correct 1 -> 0 of 1 graded" in done.stderr, "a changed answer is graded again"
