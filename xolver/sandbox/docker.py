"""`DockerSandbox`: each run in a container with no network, a read-only root, a tmpfs work directory,
memory / CPU / PID limits and a non-root user, from a warm pool of containers reused between runs.

Each container's main process is the in-sandbox runner, serving payloads over its attached stdin (no
`docker exec` per run): it writes the files, runs the program as the sandbox user, and afterwards kills
whatever the program left running and empties the work directory, so a reused container shows no run
another's files or processes. A container whose run went wrong
(the runner died, or outlived its deadline) is thrown away, never reused.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from xolver.errors import ConfigError
from xolver.sandbox.base import ExecResult, Limits
from xolver.sandbox.common import RUNNER_SOURCE, SANDBOX_UID, parse_report, payload

IMAGE = "xolver-sandbox:latest"
LABEL = "xolver.sandbox"
GRACE = 5.0


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

    def send(self, data: bytes, *, deadline: float) -> bytes | None:
        """One payload in, the runner's one report line out; None when it did not come in time."""
        self.raw.settimeout(deadline)
        try:
            self.raw.sendall(data.replace(b"\n", b" ") + b"\n")
            line = b""
            while not line.endswith(b"\n"):
                while len(self.buffer) < 8 or len(self.buffer) < 8 + int.from_bytes(self.buffer[4:8], "big"):
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
            tmpfs={"/work": f"size={limits.disk_mb}m,mode=1777", "/tmp": "size=1m,mode=1777"},
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            user="0",  # the runner serves as root and drops every program to SANDBOX_UID
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

    def _exchange(self, warm: _Warm, data: bytes, timeout: float, limits: Limits, start: float) -> ExecResult:
        output = warm.send(data, deadline=timeout + GRACE)
        if output is None:
            warm.discard()
            return ExecResult(exit_code=None, timed_out=True, duration=time.monotonic() - start, backend=self.name)
        result, reported = parse_report(output, backend=self.name, fallback_duration=time.monotonic() - start)
        self._release(limits, warm, healthy=reported)
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
        data = payload(
            code, stdin=stdin, files=files, timeout=timeout, limits=limits, workdir="/work", isolate=False,
            uid=SANDBOX_UID,
        )  # fmt: skip
        start = time.monotonic()
        acquiring = asyncio.ensure_future(asyncio.to_thread(self._acquire, limits))
        try:
            warm = await asyncio.shield(acquiring)
        except asyncio.CancelledError:  # the container still comes up in its thread: throw it away then
            acquiring.add_done_callback(lambda done: done.cancelled() or done.exception() or done.result().discard())
            raise
        try:
            return await asyncio.to_thread(self._exchange, warm, data, timeout, limits, start)
        except asyncio.CancelledError:  # removing the container kills the program and frees the thread
            await asyncio.shield(asyncio.to_thread(warm.discard))
            raise
