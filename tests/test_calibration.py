"""Calibration: each piece of evidence and each rule weighed against the references of graded runs, the
cheapest rule that reaches a target precision on enough verified solves, written to the config and used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xolver.bench.calibration import evidence_precision, fit, write_rules
from xolver.bench.report import render_markdown, summarize, write_report
from xolver.bench.runner import BenchRecord
from xolver.cli import main
from xolver.config import load_config
from xolver.schema import Evidence, Settings
from xolver.team.evidence import verdict


def record(i: int, correct: bool, **passes: bool | None) -> BenchRecord:
    evidence = [Evidence(kind=kind, passed=ok) for kind, ok in passes.items()]  # type: ignore[arg-type]
    verification = verdict("math", evidence, "evidence")
    return BenchRecord(id=f"q{i}", method="xolver", status="graded", correct=correct, answer="1", seconds=1.0,
                       verified=verification.passed, verification=verification,
                       config=Settings().run_config({"solver": "m"}))  # fmt: skip


def liar_judged_run() -> list[BenchRecord]:
    """30 solves whose judge passes everything; the independent check passes the 24 right answers and 2 wrong
    ones (one of them with a program that failed), agreement the 24 and 5 wrong ones."""
    rows = [record(i, True, own_program=True, independent_check=True, judge=True, agreement=True) for i in range(24)]
    rows += [record(24, False, own_program=True, independent_check=True, judge=True, agreement=False)]
    rows += [record(25 + i, False, own_program=True, independent_check=False, judge=True, agreement=True)
             for i in range(4)]  # fmt: skip
    rows += [record(29, False, own_program=False, independent_check=True, judge=True, agreement=True)]
    return rows


def test_each_piece_of_evidence_and_each_rule_has_its_precision_and_n() -> None:
    table = evidence_precision(liar_judged_run())
    assert (table["judge"].verified, table["judge"].right) == (30, 24), "a judge that passes everything"
    assert (table["independent_check"].verified, table["independent_check"].right) == (26, 24)
    assert table["rule: evidence"].verified == 25 and table["rule: evidence"].precision == pytest.approx(0.96)
    assert table["rule: judge"].verified == 29 and table["rule: judge"].precision == pytest.approx(24 / 29)


def test_the_fit_is_the_cheapest_rule_of_highest_recall_that_reaches_the_target_on_enough_solves() -> None:
    rows = liar_judged_run()
    best = fit(rows, "math", target=0.95, min_verified=20)
    assert best is not None and best.requires == ["independent_check"], "0.96 on 25, all 24 right answers in"
    strict = fit(rows, "math", target=0.99, min_verified=20)
    assert strict is not None and strict.requires == ["independent_check", "agreement"]
    assert (strict.measured.precision, strict.measured.recall, strict.measured.verified) == (1.0, 1.0, 24)
    assert fit(rows, "math", target=0.99, min_verified=25) is None, "24 verified solves are not 25"
    assert fit(rows, "math", target=1.01) is None


def test_a_fitted_rule_is_written_to_the_config_read_back_and_decides(tmp_path: Path) -> None:
    config = tmp_path / "xolver.toml"
    config.write_text('agents = 4\n\n[verify_requires]\ncode = ["tests"]\n\n[models]\njudge = "openai/x"\n')
    best = fit(liar_judged_run(), "math", target=0.99, min_verified=20)
    assert best is not None
    write_rules(config, [best])
    write_rules(config, [best])  # again: the tables are replaced, not repeated
    settings = load_config(config)
    assert settings.agents == 4 and settings.models == {"judge": "openai/x"}
    assert settings.verify_requires == {"math": ["independent_check", "agreement"]}
    assert settings.verify_precision == {"math": 1.0}
    evidence = [Evidence(kind="own_program", passed=True), Evidence(kind="independent_check", passed=True),
                Evidence(kind="agreement", passed=True)]  # fmt: skip
    decided = verdict("math", evidence, settings.verify_rule, settings.verify_requires["math"])
    assert decided.passed and decided.rule == "calibrated"
    assert not verdict("math", evidence[:2], "evidence", settings.verify_requires["math"]).passed
    vetoed = verdict("math", [Evidence(kind="own_program", passed=False), *evidence[1:]], "evidence", ["agreement"])
    assert not vetoed.passed, "a program that failed vetoes every rule"


def test_the_report_and_summary_carry_the_evidence_table(tmp_path: Path) -> None:
    rows = liar_judged_run()
    text = render_markdown(summarize(rows))
    assert "| xolver (learn) | judge | 30 | 80.0% | 100.0% |" in text
    write_report(rows, tmp_path)
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert summary["evidence"]["independent_check"]["verified"] == 26


def test_calibrate_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "run.jsonl"
    results.write_text("".join(r.model_dump_json() + "\n" for r in liar_judged_run()))
    assert main(["calibrate", str(results), "--write", str(tmp_path / "c.toml")]) == 0
    out = capsys.readouterr().out
    assert "fitted: independent_check (precision 0.960, n=25)" in out and (tmp_path / "c.toml").exists()
    assert main(["calibrate", str(results), "--min-verified", "50", "--write", str(tmp_path / "d.toml")]) == 0
    assert "no rule reaches precision 0.95 on 50" in capsys.readouterr().out and not (tmp_path / "d.toml").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["calibrate", str(empty)]) != 0
