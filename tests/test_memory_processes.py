"""Memory across processes: a killed writer loses nothing committed; an embedded store belongs to one process
(a second is refused with the fix); a Chroma server, also one started over a store's directory, takes many."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xolver import Experience
from xolver.errors import ConfigError
from xolver.memory import ChromaExperienceStore, HashingEmbedder
from xolver.memory.server import ChromaServer, free_port

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
    asyncio.run(store.aclose())
    extra = writer("--dir", str(tmp_path), "--prefix", "again", "--batches", "1", "--size", "10")
    assert extra.wait(timeout=120) == 0, "and takes new writes"


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with ChromaServer(tmp_path / "server") as url:
        yield url


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
        ChromaExperienceStore.connect(f"http://127.0.0.1:{free_port()}", HashingEmbedder())


def test_a_second_process_is_refused_an_open_embedded_store_and_told_how_to_share_it(tmp_path: Path) -> None:
    store = ChromaExperienceStore.open(tmp_path, HashingEmbedder())
    again = ChromaExperienceStore.open(tmp_path, HashingEmbedder())  # this process may open it more than once
    other = subprocess.run([sys.executable, WRITER, "--dir", str(tmp_path), "--prefix", "x", "--batches", "1"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert other.returncode != 0
    assert f"open in another process (pid {os.getpid()})" in other.stderr and "chroma run --path" in other.stderr
    asyncio.run(store.aclose())
    refused = writer("--dir", str(tmp_path), "--prefix", "x", "--batches", "1")
    assert refused.wait(timeout=120) != 0, "held until the last store in this process closes"
    asyncio.run(again.aclose())
    assert writer("--dir", str(tmp_path), "--prefix", "x", "--batches", "1", "--size", "5").wait(timeout=120) == 0


def test_a_store_served_over_its_directory_is_the_same_store_after(tmp_path: Path) -> None:
    embedded = ChromaExperienceStore.open(tmp_path, HashingEmbedder())
    asyncio.run(embedded.add([Experience(id="before", kind="solution", problem="p0", content="c0", verified=True)]))
    with pytest.raises(ConfigError, match="open in this process"):
        ChromaServer(tmp_path).start()  # not while a store in this process has it open
    asyncio.run(embedded.aclose())
    with ChromaServer(tmp_path) as url:
        with pytest.raises(ConfigError, match="Chroma server this process started"):
            ChromaExperienceStore.open(tmp_path, HashingEmbedder())
        served = ChromaExperienceStore.connect(url, HashingEmbedder())
        assert asyncio.run(served.count()) == 1
        asyncio.run(served.add([Experience(id="served", kind="solution", problem="p1", content="c1", verified=True)]))
    after = ChromaExperienceStore.open(tmp_path, HashingEmbedder())
    assert {e.id for e in asyncio.run(after.all())} == {"before", "served"}
    asyncio.run(after.aclose())
