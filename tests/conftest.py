"""Test guard: no test reaches a real model unless it is marked `real_model`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xolver.llm.testing import allow_model_requests, block_model_requests


@pytest.fixture(autouse=True)
def _model_request_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    guard = allow_model_requests if request.node.get_closest_marker("real_model") else block_model_requests
    with guard():
        yield


@pytest.fixture(autouse=True)
def _no_stray_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests see defaults, not the developer's xolver.toml or XOLVER_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("XOLVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XOLVER_CONFIG_FILE", str(tmp_path_factory.getbasetemp() / "absent-xolver.toml"))
    # no test writes to the user's experience memory: tests that want a store pass one, or a directory
    monkeypatch.setenv("XOLVER_MEMORY", "false")
    monkeypatch.setenv("XOLVER_SANDBOX", "none")


@pytest.fixture(params=["docker", "process"], scope="session")
def sandbox(request: pytest.FixtureRequest):
    """Each sandbox backend, for real. Docker needs an engine and the image (`.ci/run` provides both)."""
    from xolver.sandbox import open_sandbox

    box = open_sandbox(request.param)
    yield box
    asyncio.run(box.aclose())  # the warm containers go with the session


sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))
from fake_server import spawn  # noqa: E402


@pytest.fixture
def fake_server() -> Iterator[str]:
    """tools/fake_server.py in its own process: fast, well-formed replies for every agent."""
    process, api_base = spawn(["--ttft", "0.05", "--rate", "400", "--output-tokens", "40"])
    yield api_base
    process.terminate()
    process.wait()
