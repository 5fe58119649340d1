"""`ChromaServer`: an embedded store's directory served by `chroma run`, so that many processes share it.

An embedded store belongs to one process; a run spread over processes or machines (Ray) shares its memory
through a server instead. This starts one over the directory, holding the directory the whole time it
serves (no process opens it embedded meanwhile), and stops it again; the directory is then an embedded
store as before, with everything the server's clients wrote.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from xolver.errors import ConfigError
from xolver.memory.chroma import hold_directory, release_directory

STARTUP_SECONDS = 60.0
_CHROMA = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; sys.exit(app())"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """`chroma run --path DIRECTORY` on `host`, reachable at `url` once started."""

    def __init__(self, directory: str | Path, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.directory = Path(directory).expanduser().resolve()
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._holding = False

    def start(self) -> str:
        """Serve the directory; the URL once the server answers its heartbeat."""
        self.directory.mkdir(parents=True, exist_ok=True)
        hold_directory(self.directory, serving=True)
        self._holding = True
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHROMA, "run", "--path", str(self.directory), "--host", self.host,
                 "--port", str(self.port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )  # fmt: skip
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_until_up(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = (self._process.stderr.read() if self._process.stderr else b"").decode(errors="replace")
                raise ConfigError(f"the Chroma server for {self.directory} exited at start: {error.strip()[-500:]}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise ConfigError(f"the Chroma server for {self.directory} did not answer within {STARTUP_SECONDS:.0f} s")

    def stop(self) -> None:
        """Stop serving (what was written is on disk) and let the directory go."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr:
                process.stderr.close()
        if self._holding:
            self._holding = False
            release_directory(self.directory)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
