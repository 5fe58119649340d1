"""A learning run over a real two-node Ray cluster on this machine (a head and a second `ray start --address`
node, both on loopback, token authentication on), against the fake server: the workers share one memory
through the Chroma server the driver starts, a worker killed mid-run loses and doubles nothing, and a
driver without the cluster's token is told in one line what to set."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from xolver.memory import ChromaExperienceStore, HashingEmbedder
from xolver.memory.server import free_port

pytest.importorskip("ray", reason="Ray is the optional extra xolver[ray]")
pytestmark = pytest.mark.slow

TOKEN = "0123456789abcdef" * 2
CLUSTER_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
RUN_ENV = {"XOLVER_MEMORY": "learn", "XOLVER_SANDBOX": "process", "XOLVER_RECALL": "false", **CLUSTER_ENV}
NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana"]
THINGS = [("crates", "bolts"), ("buses", "seats"), ("shelves", "books"), ("orchards", "trees")]


def ray_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ray", *args], env={**os.environ, **CLUSTER_ENV}, capture_output=True, text=True,
                          timeout=180)  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A head and a second node on loopback; `ray stop` ends every Ray process on this machine after."""
    address = f"127.0.0.1:{free_port()}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    head = ray_cli("start", "--head", "--port", address.split(":")[1], "--include-dashboard", "false", *common)
    assert head.returncode == 0, head.stderr
    node = ray_cli("start", "--address", address, *common)
    assert node.returncode == 0, node.stderr
    deadline = time.monotonic() + 60
    while ray_cli("status", "--address", address).stdout.count(" node_") < 2:  # until the head lists both
        assert time.monotonic() < deadline, "the second node did not join"
        time.sleep(1)
    try:
        yield address
    finally:
        ray_cli("stop", "--force")


def problems(tmp_path: Path, count: int) -> Path:
    """`count` differently worded problems, all 347 * 29 (the fake server's answer), so every one is right."""
    path = tmp_path / "set.jsonl"
    rows = []
    for i in range(count):
        holder, item = THINGS[i % len(THINGS)]
        name = NAMES[(i // len(THINGS)) % len(NAMES)]
        text = f"{name} counts {item} in 29 {holder}, each with 347 {item}. How many {item} does {name} count?"
        rows.append({"id": f"p{i:02d}", "problem": text, "answer": "10063"})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def bench_run(dataset: Path, out: Path, address: str, api_base: str, **env: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "xolver.cli", "bench", "run", "--dataset", str(dataset), "--out", str(out),
               "--executor", "ray", "--address", address, "--workers", "2", "--concurrency", "8",
               "--model", "openai/fake", "--api-base", api_base, "-m", "2", "-I", "1"]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, **RUN_ENV, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_two_nodes_learn_into_one_shared_memory(tmp_path: Path, cluster: str, fake_server: str) -> None:
    out = tmp_path / "run.jsonl"
    run = bench_run(problems(tmp_path, 32), out, cluster, fake_server)
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr[-3000:]
    records = lines(out)
    assert sorted(r["id"] for r in records) == [f"p{i:02d}" for i in range(32)], "every id once"
    assert all(r["error"] is None and r["correct"] for r in records), [r["error"] for r in records if r["error"]]
    workers = {r["worker"] for r in records}
    assert len(workers) == 2 and len({w.split(" node ")[1] for w in workers}) == 2, f"one per node: {workers}"

    solves = {s["run_id"]: s for s in lines(tmp_path / "run.solves.jsonl")}
    writes = [i for r in records for i in solves[r["run_id"]]["memory_writes"]]
    assert writes and all(solves[r["run_id"]]["verified"] for r in records if solves[r["run_id"]]["memory_writes"])
    store = ChromaExperienceStore.open(tmp_path / "run.memory", HashingEmbedder())
    try:
        learned = {e.id for e in asyncio.run(store.all()) if e.source == "self"}
    finally:
        asyncio.run(store.aclose())
    assert len(writes) == len(set(writes)) and learned == set(writes), "every verified write in the store, once"

    worker_of = {r["run_id"]: r["worker"] for r in records}
    crossed = [(r["id"], ref["problem_id"]) for r in records for ref in r["exemplars"]
               if ref.get("written_by") in worker_of and worker_of[ref["written_by"]] != r["worker"]]  # fmt: skip
    assert crossed, "a problem solved late retrieved what the other worker learned"


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(tmp_path: Path, cluster: str, fake_server: str) -> None:
    out = tmp_path / "run.jsonl"
    run = bench_run(problems(tmp_path, 32), out, cluster, fake_server)
    killed, written = None, 0
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and run.poll() is None:
        if done := lines(out):
            killed, written = done[0]["worker"], len(done)
            os.kill(int(killed.split(":")[1].split()[0]), signal.SIGKILL)
        time.sleep(0.2)
    assert killed is not None, "no record came to pick a worker from"
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr[-3000:]
    records = lines(out)
    assert sorted(r["id"] for r in records) == [f"p{i:02d}" for i in range(32)], "every id once"
    assert all(r["error"] is None for r in records), "the lost worker's problems were solved by the other"
    in_flight = 4  # a worker's problems at once: those it had when killed may have finished just before
    assert len(records) > written + in_flight, "killed mid-run, not at the end"
    assert all(r["worker"] != killed for r in records[written + in_flight :]), "nothing more went to the lost worker"


def test_a_driver_without_the_clusters_token_is_told_what_to_set(tmp_path: Path, cluster: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    done = subprocess.run(
        [sys.executable, "-m", "xolver.cli", "bench", "run", "--dataset", str(problems(tmp_path, 1)), "--out",
         str(tmp_path / "o.jsonl"), "--executor", "ray", "--address", cluster, "--model", "openai/fake"],
        env={**env, "XOLVER_MEMORY": "false"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"xolver: error: the Ray cluster at {cluster} refused this driver; it uses token authentication: set "
        "RAY_AUTH_MODE=token, with the cluster's token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token"
    ]
    assert not (tmp_path / "o.jsonl").exists() or not lines(tmp_path / "o.jsonl")
