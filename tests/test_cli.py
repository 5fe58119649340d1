"""The `xolver` command: JSON output, one-line errors with exit code 2, and configuration sources."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stub_server import stub_server, team_handler

from xolver.cli import main


def xolver(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xolver.cli", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_help_answers_at_once() -> None:
    start = time.perf_counter()
    done = xolver("--help")
    assert done.returncode == 0 and "solve" in done.stdout
    assert time.perf_counter() - start < 5, "litellm must not be imported for --help"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "   "], "a problem must be non-empty text"),
        (["solve", "2+2", "--agents", "0"], "invalid configuration: agents"),
        (["solve", "2+2", "--config", "/nonexistent/xolver.toml"], "config file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_malformed_config_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "xolver.toml"
    bad.write_text("agents = [unclosed\n")
    assert main(["config", "show", "--config", str(bad)]) == 2
    assert "cannot read configuration" in capsys.readouterr().err


def test_an_unknown_kind_is_rejected_by_argparse() -> None:
    done = xolver("solve", "2+2", "--kind", "poetry")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_an_unreachable_model_is_one_line_and_exit_2() -> None:
    done = xolver(
        "solve", "What is 2+2?", "--model", "openai/x", "--api-base", "http://127.0.0.1:9/v1", "--timeout", "5"
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xolver: model error:") and "openai/x" in lines[0]
    assert done.stdout == ""


def test_solve_json_against_an_openai_compatible_server() -> None:
    with stub_server(team_handler) as api_base:
        done = xolver(
            "solve", "What is 347 times 29?", "--json", "--agents", "2", "--iterations", "2",
            "--model", "openai/stub", "--api-base", api_base,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON object
    assert result["answer"] == "10063"
    assert len(result["roles"]) == 2
    assert all(c["judgement"]["score"] == 1.0 for it in result["iterations"] for c in it["candidates"])
    assert {"calls", "prompt_tokens", "completion_tokens", "seconds"} <= result["usage"].keys()
    assert result["stop_reason"] == "converged"
    assert result["config"]["settings"]["agents"] == 2 and result["config"]["models"]["solver"] == "openai/stub"


def test_solve_summary_is_readable() -> None:
    with stub_server(team_handler) as api_base:
        done = xolver("solve", "What is 347 times 29?", "-m", "2", "--model", "openai/stub", "--api-base", api_base)
    assert done.returncode == 0, done.stderr
    assert "answer: 10063" in done.stdout and "team: Algebraist, Calculator" in done.stdout
    assert "judged Algebraist: 1.00" in done.stderr  # live progress goes to stderr


def test_problem_from_stdin() -> None:
    with stub_server(team_handler) as api_base:
        done = xolver(
            "solve", "-", "--json", "--model", "openai/stub", "--api-base", api_base, input="What is 347 times 29?"
        )
    assert done.returncode == 0 and json.loads(done.stdout)["problem"]["text"] == "What is 347 times 29?"


def test_config_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "xolver.toml"
    toml.write_text('agents = 5\niterations = 4\nmodel = "openai/from-file"\n[models]\njudge = "openai/judge"\n')
    monkeypatch.setenv("XOLVER_ITERATIONS", "6")
    done = xolver("config", "show", "--json", "--config", str(toml), "--model", "openai/from-flag")
    config = json.loads(done.stdout)
    assert config["agents"] == 5  # file over default
    assert config["iterations"] == 6  # environment over file
    assert config["model"] == "openai/from-flag"  # flag over everything
    assert config["models"] == {"judge": "openai/judge"}


def test_xolver_toml_in_the_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xolver.toml").write_text("exemplars = 7\n")
    monkeypatch.delenv("XOLVER_CONFIG_FILE")
    done = xolver("config", "show", "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["exemplars"] == 7


def subcommand(*path: str):
    """The argparse parser of `xolver <path...>`."""
    import argparse

    from xolver.cli import build_parser

    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def test_choices_come_from_the_schema() -> None:
    from typing import get_args

    from xolver.schema import MethodName, TaskKind, choices

    def options(parser, flag: str) -> list[str]:
        return next(a.choices for a in parser._actions if flag in a.option_strings)

    run = subcommand("bench", "run")
    assert options(run, "--method") == list(get_args(MethodName))
    assert options(run, "--sandbox") == choices("sandbox") and options(run, "--retrieval") == choices("retrieval")
    assert options(subcommand("solve"), "--kind") == list(get_args(TaskKind))


def test_every_run_flag_sets_a_setting_of_the_same_name() -> None:
    from xolver.schema import Settings

    own = {"help", "config", "problem", "kind", "json", "save"}
    dests = {a.dest for a in subcommand("solve")._actions} - own
    assert dests and dests <= set(Settings.model_fields), dests - set(Settings.model_fields)


def test_a_bug_in_our_code_is_not_reported_as_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise ValueError("an internal bug")

    monkeypatch.setattr("xolver.cli._run_config_show", broken)
    with pytest.raises(ValueError, match="internal bug"):
        main(["config", "show"])
