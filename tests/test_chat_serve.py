"""`xolver chat` piped and scripted, `xolver serve` with the embedded model, and prompt prefix sharing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import make_xolver, planner_reply
from stub_server import stub_server, team_handler

from xolver import Experience, InMemoryExperienceStore
from xolver.bench.records import load_run
from xolver.llm.testing import scripted_team

CLI = [sys.executable, "-m", "xolver.cli"]


def chat(
    script: str, *flags: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "chat", *flags], input=script, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip


def test_piped_chat_answers_keeps_context_and_runs_commands(tmp_path: Path) -> None:
    transcript = tmp_path / "session.jsonl"
    script = (f"What is 347 times 29?\n/agents 2\n/agents 0\n/bogus\nAnd that minus 63?\n/memory search trains\n"
              f"/trace\n/save {transcript}\n/quit\nnever asked\n")  # fmt: skip
    with stub_server(team_handler) as api_base:
        done = chat(script, "--model", "openai/stub", "--api-base", api_base, "-I", "1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b[" not in out, "no colour when piped"
    assert out.count("Answer: 10063") == 2
    assert "team: Algebraist, Calculator, Checker" in out and "team: Algebraist, Calculator\n" in out
    assert "judge on Algebraist: 1.00" in out and "agents = 2" in out
    assert "not changed:" in out and "unknown command or arguments: /bogus" in out
    assert "experience memory is off" in out
    assert '"stop_reason": "converged"' in out  # /trace prints the last solve as JSON
    saved = load_run(transcript)  # the format of `xolver solve --save`: one SolveResult a line
    assert saved.kind == "solves" and [r.answer for r in saved.records] == ["10063", "10063"]
    first, follow_up = (r.solve.problem.text for r in saved.records if r.solve is not None)
    assert first == "What is 347 times 29?"
    assert "Q: What is 347 times 29?\nA: 10063" in follow_up and follow_up.endswith("New question: And that minus 63?")
    assert "never asked" not in out


def test_chat_model_switch_and_eof(tmp_path: Path) -> None:
    with stub_server(team_handler) as api_base:
        done = chat("/model openai/other\n/help\n", "--model", "openai/stub", "--api-base", api_base)
    assert done.returncode == 0 and "model = openai/other" in done.stdout and "/memory search TEXT" in done.stdout


async def test_solver_prompts_of_one_iteration_share_most_of_their_prefix() -> None:
    """Prefix caching: the m solver prompts share problem, exemplars and shared memory; only the role differs."""
    store = InMemoryExperienceStore(
        [
            Experience(
                kind="solution", problem="What is 12 times 7 in total?", content="12 * 7 = 84. " * 20, verified=True
            )
        ]
    )
    model = scripted_team(planner=planner_reply, solver="Step by step... " * 30 + r"\boxed{10063}", judge="Score: 0.7")
    await make_xolver(model, store, iterations=2, patience=5).asolve("What is 347 times 29 in total?")
    solver = [r for r in model.requests if r.role == "solver"]
    shares = []
    for iteration in (solver[:3], solver[3:]):
        texts = ["\n".join(m.content for m in r.messages) for r in iteration]
        common = next(
            (i for i, chars in enumerate(zip(*texts, strict=False)) if len(set(chars)) > 1), min(map(len, texts))
        )
        shares.append(common / (sum(map(len, texts)) / len(texts)))
    print(f"\nshared-prefix share of the solver prompts: iteration 1 {shares[0]:.1%}, iteration 2 {shares[1]:.1%}")
    assert shares[0] > 0.6 and shares[1] > 0.8


@pytest.mark.slow
@pytest.mark.real_model
def test_piped_chat_on_the_embedded_model(tmp_path: Path) -> None:
    """The issue's own command: printf 'What is 12*7?\\n/trace\\n/quit\\n' | xolver chat."""
    env = {"XOLVER_MEMORY": "true", "XOLVER_MEMORY_DIR": str(tmp_path / "memory"), "XOLVER_SANDBOX": "auto",
           "XOLVER_AGENTS": "2", "XOLVER_ITERATIONS": "1"}  # the chat's path whole, at a third of the default's calls
    done = chat("What is 12*7?\n/trace\n/quit\n", env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Answer:" in done.stdout and '"iterations": [' in done.stdout and '"usage": {' in done.stdout


@pytest.mark.slow
@pytest.mark.real_model
def test_serve_then_solve_with_what_it_printed() -> None:
    serve = subprocess.Popen([*CLI, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        model = serve.stdout.readline().split(": ", 1)[1].strip()
        api_base = serve.stdout.readline().split(": ", 1)[1].strip()
        assert model == "openai/smollm2-135m-instruct" and api_base.startswith("http://127.0.0.1:")
        done = subprocess.run(
            [*CLI, "solve", "What is 12*7?", "--model", model, "--api-base", api_base, "-m", "1", "-I", "1", "--json"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "XOLVER_RECALL": "false"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["usage"]["calls"] >= 3 and result["config"]["models"]["solver"] == model
    finally:
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0, "Ctrl-C stops the server cleanly"
    time.sleep(0.5)
    port = api_base.rsplit(":", 1)[1].split("/")[0]
    listening = subprocess.run(["ss", "-ltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert f":{port}" not in listening, "the model server is gone"
