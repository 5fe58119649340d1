"""`DockerSandbox`: each run in a container with no network, a read-only root, tmpfs writable places,
memory / CPU / PID limits and an unprivileged user, from a warm pool of containers reused between runs.

Each container's main process is the in-sandbox runner, serving runs over its attached stdin (no
`docker exec` per run). It runs the program as the container's own uid (UID_BASE + the container's host
PID: no other live container or process run has it, so per-user limits are per container), and after
each run kills every process but itself, empties /work, /tmp, /var/tmp, /dev/shm and /dev/mqueue and
removes System V IPC objects, so the next run in that container starts clean. A container whose run went
wrong (the runner failed, outlived its deadline, or could not clean up) is thrown away, never reused.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from xolver.errors import ConfigError
from xolver.sandbox.base import ExecResult, Limits
from xolver.sandbox.common import RUNNER_MB, RUNNER_SOURCE, RUNNER_TASKS, UID_BASE, check_files, header, parse_report

IMAGE = "xolver-sandbox:latest"
LABEL = "xolver.sandbox"
GRACE = 5.0
WRITABLE = ["/work", "/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"]
OOM_COUNTER = {"1": "/sys/fs/cgroup/memory/memory.oom_control", "2": "/sys/fs/cgroup/memory.events"}


def docker_client(timeout: float = 5.0) -> Any:
    """A client whose engine answered a ping, or ConfigError saying why not."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:
        raise ConfigError(f"no Docker engine answers: {str(exc).splitlines()[0][:200]}") from exc
    return client


def docker_problem(image: str = IMAGE) -> str | None:
    """Why the Docker sandbox cannot run here, or None."""
    try:
        client = docker_client()
    except ConfigError as exc:
        return str(exc)
    try:
        client.images.get(image)
    except Exception:
        return f"the image {image} is missing: run `xolver sandbox build`"
    return None


class _Warm:
    """A pooled container and the attached stdin/stdout of the runner it serves."""

    def __init__(self, client: Any, container: Any) -> None:
        self.container = container
        self.socket = client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        self.raw = self.socket._sock
        self.buffer = b""
        container.reload()
        self.uid = UID_BASE + container.attrs["State"]["Pid"]

    def send(self, data: bytes, *, seconds: float) -> bytes | None:
        """One run in, the runner's one report line out; None when it did not come within `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            self.raw.settimeout(seconds)
            self.raw.sendall(data)
            line = b""
            while not line.endswith(b"\n"):
                while len(self.buffer) < 8 or len(self.buffer) < 8 + int.from_bytes(self.buffer[4:8], "big"):
                    self.raw.settimeout(max(0.001, deadline - time.monotonic()))
                    chunk = self.raw.recv(65536)
                    if not chunk:
                        return line or None
                    self.buffer += chunk
                size = int.from_bytes(self.buffer[4:8], "big")  # docker's frame: stream, 0, 0, 0, size
                line += self.buffer[8 : 8 + size]
                self.buffer = self.buffer[8 + size :]
            return line
        except OSError:
            return None

    def discard(self) -> None:
        try:
            self.socket.close()
            self.container.remove(force=True)
        except Exception:  # already gone: nothing to clean up
            return


class DockerSandbox:
    name = "docker"

    def __init__(self, limits: Limits | None = None, *, image: str = IMAGE, pool_size: int = 4) -> None:
        self.limits = limits or Limits()
        self.image = image
        self.pool_size = pool_size
        self.client = docker_client()
        self._oom_counter = OOM_COUNTER.get(str(self.client.info().get("CgroupVersion", "1")))
        self._idle: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def _create(self, limits: Limits) -> Any:
        return self.client.containers.run(
            self.image,
            command=["python3", "-I", "-u", "-c", RUNNER_SOURCE, "--serve"],
            stdin_open=True,
            detach=True,
            network_mode="none",
            read_only=True,
            tmpfs={place: f"size={limits.disk_mb}m,mode=1777,nosuid,nodev" for place in WRITABLE[:3]},
            shm_size=f"{limits.disk_mb}m",
            mem_limit=f"{limits.memory_mb + RUNNER_MB}m",
            memswap_limit=f"{limits.memory_mb + RUNNER_MB}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids + RUNNER_TASKS,
            user="0",  # the runner serves as root and drops every program to the container's own uid
            cap_drop=["ALL"],
            cap_add=["SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER"],  # the runner's, not the program's
            security_opt=["no-new-privileges"],
            labels={LABEL: "1"},
        )

    def _acquire(self, limits: Limits) -> _Warm:
        key = limits.model_dump_json()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if idle:
                return idle.pop()
        return _Warm(self.client, self._create(limits))

    def _release(self, limits: Limits, warm: _Warm, healthy: bool) -> None:
        key = limits.model_dump_json()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if healthy and len(idle) < self.pool_size:
                idle.append(warm)
                return
        warm.discard()

    def warm(self, count: int | None = None, limits: Limits | None = None) -> None:
        """Start containers ahead of the first runs."""
        limits = limits or self.limits
        made = [_Warm(self.client, self._create(limits)) for _ in range(count or self.pool_size)]
        for warm in made:
            self._release(limits, warm, healthy=True)

    async def aclose(self) -> None:
        """Remove the idle containers; a run in flight discards its own when it ends."""
        with self._lock:
            containers = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for warm in containers:
            await asyncio.to_thread(warm.discard)

    def _exchange(self, warm: _Warm, run: dict[str, Any], limits: Limits, start: float) -> ExecResult:
        data = header(**run, limits=limits, uid=warm.uid, workdir="/work", writable=WRITABLE, isolate=False,
                      rlimit_as=False, oom_counter=self._oom_counter)  # fmt: skip
        output = warm.send(data, seconds=run["timeout"] + GRACE)
        if output is None:
            warm.discard()
            return ExecResult(exit_code=None, timed_out=True, duration=time.monotonic() - start, backend=self.name)
        result, clean = parse_report(output, backend=self.name, duration=time.monotonic() - start)
        self._release(limits, warm, healthy=clean)
        return result

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        limits = limits or self.limits
        check_files(files)
        run = {"code": code, "stdin": stdin, "files": files, "timeout": timeout}
        start = time.monotonic()
        acquiring = asyncio.ensure_future(asyncio.to_thread(self._acquire, limits))
        try:
            warm = await asyncio.shield(acquiring)
        except asyncio.CancelledError:  # the container still comes up in its thread: throw it away then
            acquiring.add_done_callback(lambda done: done.cancelled() or done.exception() or done.result().discard())
            raise
        try:
            return await asyncio.to_thread(self._exchange, warm, run, limits, start)
        except asyncio.CancelledError:  # removing the container kills the program and frees the thread
            await asyncio.shield(asyncio.to_thread(warm.discard))
            raise
