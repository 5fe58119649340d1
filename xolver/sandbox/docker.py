"""`DockerSandbox`: each run in a container with no network, a read-only root, a tmpfs work directory,
memory / CPU / PID limits and a non-root user, from a warm pool of containers reused between runs.

A run is one `docker exec` of the in-sandbox runner: it writes the files, runs the program as the
sandbox user, and afterwards kills whatever the program left running and empties the work directory,
so a reused container shows no run another's files or processes. A container whose run went wrong
(the runner died, or outlived its deadline) is thrown away, never reused.
"""

from __future__ import annotations

import asyncio
import socket
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
            command=["sleep", "infinity"],
            detach=True,
            network_mode="none",
            read_only=True,
            tmpfs={"/work": f"size={limits.disk_mb}m,mode=1777", "/tmp": "size=1m,mode=1777"},
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            user="0",  # only `sleep` runs as root; the runner drops every program to SANDBOX_UID
            cap_drop=["ALL"],
            cap_add=["SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER"],  # the runner's, not the program's
            security_opt=["no-new-privileges"],
            labels={LABEL: "1"},
        )

    def _acquire(self, limits: Limits) -> Any:
        key = limits.model_dump_json()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if idle:
                return idle.pop()
        return self._create(limits)

    def _release(self, limits: Limits, container: Any, healthy: bool) -> None:
        key = limits.model_dump_json()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if healthy and len(idle) < self.pool_size:
                idle.append(container)
                return
        self._discard(container)

    def _discard(self, container: Any) -> None:
        try:
            container.remove(force=True)
        except Exception:  # already gone: nothing to clean up
            return

    def warm(self, count: int | None = None, limits: Limits | None = None) -> None:
        """Start containers ahead of the first runs."""
        limits = limits or self.limits
        made = [self._create(limits) for _ in range(count or self.pool_size)]
        for container in made:
            self._release(limits, container, healthy=True)

    def close(self) -> None:
        with self._lock:
            containers = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for container in containers:
            self._discard(container)

    def _exec(self, container: Any, data: bytes, deadline: float) -> tuple[bytes, bool]:
        """Run the runner in `container`, feeding it `data`; returns (output, finished in time)."""
        api = self.client.api
        exec_id = api.exec_create(
            container.id, ["python3", "-I", "-c", RUNNER_SOURCE], stdin=True, user="root", workdir="/"
        )["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw = sock._sock
        raw.settimeout(deadline)
        chunks: list[bytes] = []
        try:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
            buffer = b""
            while True:
                chunk = raw.recv(65536)
                if not chunk:
                    break
                buffer += chunk
            # demultiplex docker's stream frames: 8-byte header (stream, 0, 0, 0, size)
            while len(buffer) >= 8:
                size = int.from_bytes(buffer[4:8], "big")
                chunks.append(buffer[8 : 8 + size])
                buffer = buffer[8 + size :]
        except TimeoutError:
            return b"".join(chunks), False
        finally:
            sock.close()
        return b"".join(chunks), True

    def _run_sync(self, data: bytes, timeout: float, limits: Limits) -> ExecResult:
        start = time.monotonic()
        container = self._acquire(limits)
        output, finished = self._exec(container, data, timeout + GRACE)
        if not finished:
            self._discard(container)
            return ExecResult(exit_code=None, timed_out=True, duration=time.monotonic() - start, backend=self.name)
        result, reported = parse_report(output, backend=self.name, fallback_duration=time.monotonic() - start)
        self._release(limits, container, healthy=reported)
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
        return await asyncio.to_thread(self._run_sync, data, timeout, limits)
