"""Hostile code, each snippet contained on both backends.

A snippet prints ESCAPED if its attack worked; each case also states what containment looks like (a
timeout, truncated output, a killed run). After every case the sandbox must still run a clean program.
"""

from __future__ import annotations

import os
import socket
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from xolver.sandbox import ExecResult, Limits, Sandbox

LIMITS = Limits(memory_mb=256, pids=32, disk_mb=16, output_bytes=64 * 1024)
TIMEOUT = 3.0


@dataclass
class Case:
    name: str
    code: str
    contained: Callable[[ExecResult], bool] = lambda r: True
    timeout: float = TIMEOUT


def escaped_if(code: str) -> str:
    """Wrap an attack: print ESCAPED when it does not raise."""
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    return f"try:\n{body}\n    print('ESCAPED')\nexcept BaseException as e:\n    print('blocked', type(e).__name__)\n"


HOST_SECRET = "XOLVER_TEST_SECRET"
CANARY = "/tmp/xolver-hostile-canary"  # written on the host by the fixture below

CASES = [
    Case("network-tcp", escaped_if("import socket; socket.create_connection(('1.1.1.1', 80), timeout=2)")),
    Case("network-udp", escaped_if("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                                   "s.connect(('8.8.8.8', 53)); s.send(b'x'); s.settimeout(1); s.recv(10)")),
    Case("dns", escaped_if("import socket; socket.getaddrinfo('pypi.org', 443)")),
    Case("host-loopback", escaped_if("import socket, os; socket.create_connection(('127.0.0.1', int(open('port').read())), timeout=2)")),
    Case("fork-bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
         lambda r: r.timed_out or r.exit_code != 0),
    Case("thread-bomb", escaped_if("import threading, time\nfor _ in range(10000):\n"
                                   "    threading.Thread(target=time.sleep, args=(30,)).start()"),
         lambda r: "ESCAPED" not in r.stdout),
    Case("memory-bomb", "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))\n",
         lambda r: r.oom_killed or r.exit_code not in (0, None) or r.timed_out),
    Case("cpu-spin", "while True:\n    pass\n", lambda r: r.timed_out and r.duration < TIMEOUT + 2),
    Case("sleep-past-timeout", "import time\ntime.sleep(60)\n", lambda r: r.timed_out and r.duration < TIMEOUT + 2),
    Case("huge-stdout", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
         lambda r: r.output_truncated and len(r.stdout) <= LIMITS.output_bytes),
    Case("huge-stderr", "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)\n",
         lambda r: r.output_truncated and len(r.stderr) <= LIMITS.output_bytes),
    Case("write-etc", escaped_if("open('/etc/xolver-evil', 'w').write('x')")),
    Case("write-usr", escaped_if("open('/usr/lib/xolver-evil', 'w').write('x')")),
    Case("write-root-of-fs", escaped_if("open('/xolver-evil', 'w').write('x')")),
    Case("host-env", escaped_if(f"import os; assert '{HOST_SECRET}' not in os.environ; raise ValueError('not seen')")
         .replace("ESCAPED", "UNUSED"), lambda r: "UNUSED" not in r.stdout),
    Case("env-is-scrubbed", "import os\nprint(sorted(os.environ))\n",
         lambda r: HOST_SECRET not in r.stdout and "DOCKER" not in r.stdout and r.exit_code == 0),
    Case("host-home", escaped_if("import os; assert os.listdir('/root') and open('/root/.bashrc').read()")),
    Case("host-tmp-canary", escaped_if(f"open('{CANARY}').read()")),
    Case("shadow", escaped_if("open('/etc/shadow').read()")),
    Case("docker-socket", escaped_if("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')")),
    Case("kill-parent", escaped_if("import os, signal; os.kill(os.getppid(), signal.SIGKILL)")
         .replace("print('ESCAPED')", "pass"), lambda r: True),
    Case("kill-everything", "import os, signal\nfor pid in os.listdir('/proc'):\n    if pid.isdigit() and int(pid) != os.getpid():\n"
         "        try:\n            os.kill(int(pid), signal.SIGKILL)\n        except OSError:\n            pass\nprint('done')\n"),
    Case("signal-host-pid", escaped_if("import os, signal; os.kill(int(open('hostpid').read()), signal.SIGTERM); "
                                       "assert open('/proc/%s/cmdline' % open('hostpid').read()).read().find('pytest') >= 0")),
    Case("proc-root-escape", escaped_if("import os; os.listdir('/proc/1/root/root')")),
    Case("proc-environ", escaped_if(f"assert b'{HOST_SECRET}' in open('/proc/1/environ', 'rb').read()")),
    Case("proc-sys-write", escaped_if("open('/proc/sys/kernel/hostname', 'w').write('evil')")),
    Case("setuid-root", escaped_if("import os; os.setuid(0)")),
    Case("chroot", escaped_if("import os; os.chroot('/')")),
    Case("mount", escaped_if("import subprocess; subprocess.run(['mount', '-t', 'tmpfs', 'x', '/mnt'], check=True, capture_output=True)")),
    Case("fill-disk", "f = open('big', 'wb')\ntry:\n    while True:\n        f.write(b'0' * (1 << 20))\n        f.flush()\n"
         "except OSError as e:\n    print('stopped', type(e).__name__)\n",
         lambda r: "stopped" in r.stdout or r.exit_code != 0),
    Case("fill-tmp", "f = open('/tmp/big', 'wb')\ntry:\n    while True:\n        f.write(b'0' * (1 << 20))\n        f.flush()\n"
         "except OSError as e:\n    print('stopped', type(e).__name__)\n",
         lambda r: "stopped" in r.stdout or r.exit_code != 0),
    Case("fd-exhaustion", escaped_if("files = [open('f%d' % i, 'w') for i in range(5000)]")),
    Case("segfault", "import ctypes\nctypes.string_at(0)\n", lambda r: r.exit_code != 0),
    Case("background-process", "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\n"
         "import os\nif os.fork() == 0:\n    os.setsid()\n    import time\n    while True:\n        open('marker', 'w').write('x')\n"
         "        time.sleep(0.05)\nprint('left behind')\n", lambda r: r.exit_code == 0),
]  # fmt: skip

CLEAN_CHECK = """
import os
others = []
for pid in os.listdir('/proc'):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            if int(open(f'/proc/{pid}/status').read().split('Uid:')[1].split()[0]) == os.getuid():
                others.append(open(f'/proc/{pid}/cmdline').read())
        except OSError:
            pass
print('files', sorted(os.listdir('.')))
print('others', others)
"""


@pytest.fixture(scope="module")
def host_listener():
    """A TCP listener on the host's loopback that no sandboxed program may reach."""
    Path(CANARY).write_text("host data")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_code_is_contained(
    sandbox: Sandbox, case: Case, host_listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOST_SECRET, "hunter2")
    files = {"port": str(host_listener), "hostpid": str(os.getpid())}
    result = await sandbox.run(case.code, files=files, timeout=case.timeout, limits=LIMITS)
    assert "ESCAPED" not in result.stdout, result
    assert case.contained(result), result
    after = await sandbox.run(CLEAN_CHECK, timeout=10, limits=LIMITS)
    assert after.exit_code == 0, after
    assert "files ['main.py']" in after.stdout, "no file of the last run is left"
    assert "others []" in after.stdout, f"no process of the last run is left: {after.stdout}"


def test_a_named_backend_that_cannot_run_is_an_error_not_a_downgrade() -> None:
    from xolver.errors import ConfigError
    from xolver.sandbox import open_sandbox

    with pytest.raises(ConfigError, match="missing"):
        open_sandbox("docker", image="xolver-no-such-image:never")
    picked = open_sandbox("auto", image="xolver-no-such-image:never")
    assert picked.name == "process", "auto says which it picked and takes the process sandbox"


def test_cli_sandbox_run_and_doctor(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    program = tmp_path / "p.py"
    program.write_text("import sys\nprint('got', sys.stdin.read().strip())\n")
    (tmp_path / "in.txt").write_text("hello")
    for backend in ("docker", "process"):
        done = subprocess.run(
            [sys.executable, "-m", "xolver.cli", "sandbox", "run", str(program), "--stdin", str(tmp_path / "in.txt"),
             "--backend", backend, "--json"], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["stdout"] == "got hello\n" and result["backend"] == backend
        assert f"sandbox: {backend}" in done.stderr
    doctor = subprocess.run([sys.executable, "-m", "xolver.cli", "sandbox", "doctor"], capture_output=True, text=True)
    assert "docker: ok" in doctor.stdout and "process: ok" in doctor.stdout
    missing = subprocess.run([sys.executable, "-m", "xolver.cli", "sandbox", "run", str(tmp_path / "nope.py")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "cannot read" in missing.stderr
