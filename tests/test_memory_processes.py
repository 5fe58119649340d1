"""Memory across processes: a killed writer loses nothing committed; a Chroma server takes two writers."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from xolver.memory import ChromaExperienceStore, HashingEmbedder

WRITER = str(Path(__file__).with_name("memory_writer.py"))


def writer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, WRITER, *args], stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_writer_killed_mid_import_loses_no_committed_record(tmp_path: Path, seed: int) -> None:
    kill_after = random.Random(seed).randint(1, 6)
    process = writer("--dir", str(tmp_path), "--prefix", "w", "--batches", "40", "--size", "50")
    committed: list[int] = []
    assert process.stdout is not None
    for line in process.stdout:
        committed.append(int(line.split()[1]))
        if len(committed) == kill_after:
            process.send_signal(signal.SIGKILL)  # the next batch is in flight
            break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    store = ChromaExperienceStore.open(tmp_path, HashingEmbedder(), min_similarity=0.0)
    expected = [f"w-{b}-{i}" for b in committed for i in range(50)]
    found = asyncio.run(store.get(expected))
    assert len(found) == len(expected), "every committed record is back"
    count = asyncio.run(store.count())
    assert count in {len(expected), len(expected) + 50}, "the batch in flight is all there or not at all"
    hits = asyncio.run(store.search("w problem 0 3 about trains", k=3, attach=False))
    assert hits, "the reopened store searches"
    extra = writer("--dir", str(tmp_path), "--prefix", "again", "--batches", "1", "--size", "10")
    assert extra.wait(timeout=120) == 0, "and takes new writes"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    chroma = Path(sys.executable).with_name("chroma")
    port = _free_port()
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("chroma run did not come up")
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_two_processes_write_through_one_chroma_server(chroma_server: str) -> None:
    writers = [
        writer("--url", chroma_server, "--prefix", prefix, "--batches", "5", "--size", "40") for prefix in ("a", "b")
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    store = ChromaExperienceStore.connect(chroma_server, HashingEmbedder(), min_similarity=0.0)
    assert asyncio.run(store.count()) == 400
    ids = {e.id for e in asyncio.run(store.all())}
    assert {f"{p}-{b}-{i}" for p in "ab" for b in range(5) for i in range(40)} == ids
    hits = asyncio.run(store.search("b problem 4 39 about trains and speeds answer 199", k=1, attach=False))
    assert hits[0].experience.id == "b-4-39"


def test_a_dead_chroma_server_is_a_clear_error() -> None:
    from xolver.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot reach the Chroma server"):
        ChromaExperienceStore.connect(f"http://127.0.0.1:{_free_port()}", HashingEmbedder())
