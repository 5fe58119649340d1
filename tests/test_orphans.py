"""A helper process (the embedded model server, the grading worker) ends when the run that started it is
killed: one once went on decoding at full CPU for minutes after its batch run was gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is gone
        return stat.read().split(") ")[-1][0] != "Z"


def _kill_parent_and_watch(parent_code: str, timeout: float = 10.0) -> bool:
    """Run `parent_code` (it prints its helper's pid), SIGKILL it, and whether the helper outlived it."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(parent_code)], stdout=subprocess.PIPE, text=True)
    try:
        helper = int(parent.stdout.readline())  # type: ignore[union-attr]
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(helper):
        time.sleep(0.1)
    survived = _alive(helper)
    if survived:
        os.kill(helper, signal.SIGKILL)
    return survived


CHILD = (
    "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n{watch}\n"
    "print(os.getpid(), flush=True)\ntime.sleep(60)\n"
)
HELPER = """
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", {child!r}])  # it prints its pid once it watches
    time.sleep(60)
"""


def _helper(watch: str) -> str:
    """A parent whose child ignores SIGTERM, as a server finishing its requests does, and prints its pid."""
    return HELPER.replace("{child!r}", repr(CHILD.replace("{watch}", watch)))


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_helper_that_watches_its_parent_ends_when_the_parent_is_killed() -> None:
    assert not _kill_parent_and_watch(_helper("from xolver.orphans import exit_with_parent; exit_with_parent(0.1)"))
    assert _kill_parent_and_watch(_helper(""), timeout=2.0), "the control: without the watch it outlives it"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_grading_worker_ends_when_its_run_is_killed() -> None:
    assert not _kill_parent_and_watch("""
        import time
        from xolver.tools.grading import MathGrader
        grader = MathGrader()
        assert grader.equal("5", "5")
        print(next(iter(grader._pool._processes)), flush=True)
        time.sleep(60)
    """)


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_embedded_model_server_ends_when_its_run_is_killed_mid_generation() -> None:
    """The case seen: calls in flight and queued, so a SIGTERM alone would have it decode them all first."""
    assert not _kill_parent_and_watch("""
        import threading, time
        import httpx
        from xolver.llm.embedded import LlamaServer, find_gguf
        server = LlamaServer(find_gguf())
        server.start()
        body = {"model": server.alias, "prompt": "Count to a thousand:", "max_tokens": 2000}
        for _ in range(4):
            threading.Thread(target=httpx.post, args=(f"{server.api_base}/completions",),
                             kwargs={"json": body, "timeout": 300}, daemon=True).start()
        time.sleep(2)
        print(server._process.pid, flush=True)
        time.sleep(120)
    """)
