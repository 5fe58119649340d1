"""An exposed runner for proving that hostile cases can fail: each program runs as root (most capabilities) in a
container on the host's network, with the test's environment, the host's canary file and Docker socket,
loose limits (1 GiB, 1024 processes, no output cap), a deadline three times the asked one, and a work
directory, /tmp and IPC shared by every run. Only its container bounds what a case can do to the host."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from hostile_cases import CANARY, HOST_SECRET

from xolver.sandbox import ExecResult, Limits
from xolver.sandbox.common import header
from xolver.sandbox.docker import IMAGE, docker_client

# root's powers but those that reach the host's kernel, clock, network setup or modules
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
                "NET_RAW", "SYS_CHROOT", "SYS_PTRACE", "SYS_ADMIN", "MKNOD", "SYSLOG", "AUDIT_WRITE"]  # fmt: skip
BOOT = """
import json, os, subprocess, sys, time
head = json.loads(sys.stdin.buffer.readline())
stdin = sys.stdin.buffer.read(head['stdin_size'])
os.makedirs('/w', exist_ok=True)
for name, text in {**head['files'], 'main.py': head['code']}.items():
    open('/w/' + name, 'w').write(text)
start = time.monotonic()
out, err = open('/.out', 'w+b'), open('/.err', 'w+b')  # files, not pipes: what the program leaves running holds them
done = subprocess.run(['timeout', '-s', 'KILL', str(3 * head['timeout']), 'python3', 'main.py'], cwd='/w',
                      input=stdin, stdout=out, stderr=err, env={**os.environ, 'HOME': '/w'})
out.seek(0), err.seek(0)
print(json.dumps({'stdout': out.read().decode(errors='replace'), 'stderr': err.read().decode(errors='replace'),
                  'exit_code': None if done.returncode in (-9, 137) else done.returncode,
                  'timed_out': done.returncode in (-9, 137), 'duration': time.monotonic() - start}))
"""


class ExposedSandbox:
    name = "exposed"

    def __init__(self) -> None:
        self.container: Any = docker_client().containers.run(
            IMAGE, command=["sleep", "infinity"], detach=True, cap_add=CAPABILITIES,
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            network_mode="host", user="0",
            environment={HOST_SECRET: os.environ.get(HOST_SECRET, "hunter2")}, mem_limit="1g", pids_limit=1024,
            volumes={CANARY: {"bind": CANARY, "mode": "ro"}, "/var/run/docker.sock": {"bind": "/var/run/docker.sock"}},
            labels={"xolver.sandbox": "exposed"},
        )  # fmt: skip

    async def run(
        self,
        code: str,
        *,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        timeout: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        data = header(code, stdin=stdin, files=files, timeout=timeout, limits=limits or Limits(), uid=0, workdir="/w",
                      writable=[], isolate=False, rlimit_as=False)  # fmt: skip
        start = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "docker", "exec", "-i", self.container.id, "python3", "-c", BOOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(process.communicate(data), 4 * timeout + 20)
        except TimeoutError:  # a case that swamps the exposed runner (a fork bomb on two cores) is not contained
            process.kill()
            await process.wait()
            return ExecResult(exit_code=None, timed_out=True, duration=time.monotonic() - start, backend=self.name)
        try:
            return ExecResult(**json.loads(out.decode(errors="replace").strip().splitlines()[-1]), backend=self.name)
        except (ValueError, IndexError):  # the exposed runner itself was killed
            return ExecResult(exit_code=None, duration=time.monotonic() - start, backend=self.name)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.container.remove, force=True)
