"""Hostile programs and how to tell each was contained: shared by the sandbox suite and by the test that
runs the same cases against an exposed, unisolated runner, where every case must fail.

A case's program prints ESCAPED when its attack worked, and a limit case prints how far it got, so a
limit is judged by what stopped it (the kernel's error, the runner's cut) and never by a timeout alone.
A case of the `leftovers` class leaves something behind; it is judged by the clean check that runs next
in the same sandbox, which must see nothing of it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from xolver.sandbox import ExecResult, Limits
from xolver.sandbox.common import RUNNER_MB

LIMITS = Limits(memory_mb=256, pids=32, disk_mb=16, output_bytes=64 * 1024)
TIMEOUT = 2.0
MARGIN = 1.0  # how far past its timeout a run may end
HOST_SECRET = "XOLVER_TEST_SECRET"
CANARY = "/run/xolver-hostile-canary"  # written on the host by the suite, a private place hidden from programs


@dataclass
class Case:
    name: str
    kind: str  # the class of attack: network, limits, privilege, host, leftovers
    code: str
    contained: Callable[[ExecResult], bool] = lambda r: True
    stdin: str | None = None
    timeout: float = 2.0  # long enough for the attack to meet the limit it tests, on a loaded machine too


def escaped_if(code: str) -> str:
    """Wrap an attack: print ESCAPED when it does not raise."""
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    return f"try:\n{body}\n    print('ESCAPED')\nexcept BaseException as e:\n    print('blocked', type(e).__name__)\n"


def blocked(result: ExecResult) -> bool:
    """The attack raised inside a program that then exited on its own."""
    return result.exit_code == 0 and "blocked" in result.stdout and "ESCAPED" not in result.stdout


def reached(result: ExecResult) -> int:
    """The last progress marker a limit case printed (`at N`), 0 when none."""
    found = re.findall(r"at (\d+)", result.stdout)
    return int(found[-1]) if found else 0


def stopped_within(bound: int) -> Callable[[ExecResult], bool]:
    """The program's own loop was stopped by the kernel (it printed `stopped`) before `bound`."""
    return lambda r: "stopped" in r.stdout and reached(r) <= bound and "ESCAPED" not in r.stdout and not r.timed_out


def on_time(result: ExecResult) -> bool:
    return result.timed_out and result.exit_code is None and result.duration < TIMEOUT + MARGIN


def counting(loop: str, cap: int, errors: str = "OSError") -> str:
    """A loop that counts how far it gets; `stopped` at the kernel's error, ESCAPED past `cap`."""
    body = textwrap.indent(textwrap.dedent(loop).strip(), "        ")
    return (
        f"import os, sys\nn = 0\ntry:\n    while n <= {cap}:\n{body}\n        n += 1\n        print('at', n, flush=True)\n"
        f"    print('ESCAPED')\nexcept ({errors}) as e:\n    print('stopped', type(e).__name__, 'at', n)\n"
    )


def filling(path: str) -> str:
    """Fill `path` a megabyte at a time: the size limit must stop it before ESCAPED at 100 MB."""
    return counting(f"f = open({path!r}, 'ab'); f.write(b'0' * (1 << 20)); f.close()", 100)


def leaves(code: str) -> str:
    """A leftovers program: do `code`, then say it did."""
    return textwrap.dedent(code).strip() + "\nprint('left')\n"


def leftover(result: ExecResult) -> bool:
    return result.exit_code == 0 and "left" in result.stdout


NETWORK = [
    Case("tcp-host-loopback", "network", escaped_if("import socket; socket.create_connection(('127.0.0.1', int(open('port').read())), timeout=1)"), blocked),
    Case("tcp-host-addresses", "network", escaped_if(
        "import socket\nfor a in open('addresses').read().split():\n"
        "    try:\n        socket.create_connection((a, int(open('port').read())), timeout=1); break\n"
        "    except OSError:\n        pass\nelse:\n    raise OSError('none')"), blocked),
    Case("udp-to-host", "network", "import socket\nsent = 0\nfor a in ['127.0.0.1', *open('addresses').read().split()]:\n"
         "    try:\n        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'ESCAPED', (a, int(open('udp').read()))); sent += 1\n"
         "    except OSError:\n        pass\nprint('sent', sent)\n", lambda r: r.exit_code == 0 and "sent" in r.stdout),
    Case("interfaces", "network", escaped_if("import socket; assert [n for _, n in socket.if_nameindex() if n != 'lo']"), blocked),
    Case("default-route", "network", escaped_if("assert len(open('/proc/net/route').read().splitlines()) > 1"), blocked),
    Case("abstract-unix-socket", "network", escaped_if(
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect('\\0' + open('abstract').read())"), blocked),
    Case("docker-socket", "network", escaped_if("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')"), blocked),
    Case("raw-socket", "network", escaped_if("import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"), blocked),
    Case("sys-class-net", "network", escaped_if("import os; assert [n for n in os.listdir('/sys/class/net') if n != 'lo']"), blocked),
]  # fmt: skip

LIMITS_CASES = [
    Case("fork-count", "limits", counting("if os.fork() == 0:\n    import time; time.sleep(30)", 200), stopped_within(LIMITS.pids)),
    Case("fork-tree", "limits", "import os, time\nroot = os.getpid()\nfor _ in range(8):\n    try:\n        os.fork()\n"
         "    except OSError:\n        break\ntime.sleep(0.5)\nif os.getpid() == root:\n"
         "    print('at', len([p for p in os.listdir('/proc') if p.isdigit()]), flush=True)\n    time.sleep(0.5)\nos._exit(0)\n",
         lambda r: 0 < reached(r) <= LIMITS.pids + 8),
    Case("thread-count", "limits", counting("import threading, time; threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
                                            300, "OSError, RuntimeError"), stopped_within(LIMITS.pids)),
    Case("memory-bomb", "limits", "blocks = []\nfor n in range(1, 45):\n    blocks.append(b'x' * (16 << 20))\n"
         "    print('at', n * 16, flush=True)\nprint('ESCAPED')\n",
         lambda r: (r.oom_killed or "MemoryError" in r.stderr) and reached(r) <= LIMITS.memory_mb + RUNNER_MB and "ESCAPED" not in r.stdout,
         timeout=10.0),  # 2 s ran out at 176 MB while a 2-core machine ran the embedded model beside it
    Case("memory-split-across-processes", "limits",
         "import os, time\nkids = []\nfor i in range(5):\n    pid = os.fork()\n    if pid == 0:\n        block = b'x' * (100 << 20)\n"
         "        time.sleep(1.2)\n        os._exit(0)\n    kids.append(pid)\nok = sum(os.waitpid(p, 0)[1] == 0 for p in kids)\n"
         "print('at', ok * 100)\nprint('ESCAPED' if ok == 5 else 'stopped')\n",
         lambda r: "stopped" in r.stdout and reached(r) <= LIMITS.memory_mb + RUNNER_MB),
    Case("cpu-spin", "limits", "while True:\n    pass\n", on_time),
    Case("sleep-past-timeout", "limits", "import time\ntime.sleep(60)\n", on_time),
    Case("spin-in-detached-child", "limits", "import os\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        pass\n"
         "import time\ntime.sleep(60)\n", on_time),
    Case("huge-stdin-ignored", "limits", "import time\ntime.sleep(60)\n", on_time, stdin="x" * (64 << 20)),
    Case("huge-stdin-read-slowly", "limits", "import sys, time\nwhile sys.stdin.read(1):\n    time.sleep(0.1)\n", on_time,
         stdin="y" * (16 << 20)),
    Case("huge-stdout", "limits", "import sys\nfor _ in range(128):\n    sys.stdout.write('x' * 65536)\n",
         lambda r: r.output_truncated and len(r.stdout) <= LIMITS.output_bytes),
    Case("huge-stderr", "limits", "import sys\nfor _ in range(128):\n    sys.stderr.write('y' * 65536)\n",
         lambda r: r.output_truncated and len(r.stderr) <= LIMITS.output_bytes),
    Case("huge-single-line", "limits", "import os\nos.write(1, b'z' * (8 << 20))\n",
         lambda r: r.output_truncated and len(r.stdout) <= LIMITS.output_bytes),
    Case("fill-work-dir", "limits", filling("big"), stopped_within(LIMITS.disk_mb)),
    Case("fill-tmp", "limits", filling("/tmp/big"), stopped_within(LIMITS.disk_mb)),
    Case("fill-var-tmp", "limits", filling("/var/tmp/big"), stopped_within(LIMITS.disk_mb)),
    Case("fill-dev-shm", "limits", filling("/dev/shm/big"), stopped_within(LIMITS.disk_mb)),
    Case("fill-many-files", "limits", counting("open('f%d' % n, 'wb').write(b'0' * (1 << 20))", 100), stopped_within(LIMITS.disk_mb)),
    Case("fd-exhaustion", "limits", counting("globals().setdefault('held', []).append(open('/dev/null'))", 5000), stopped_within(64)),
]  # fmt: skip

PRIVILEGE = [
    Case("setuid-root", "privilege", escaped_if("import os; os.setuid(0)"), blocked),
    Case("setgid-root", "privilege", escaped_if("import os; os.setgid(0)"), blocked),
    Case("chroot", "privilege", escaped_if("import os; os.chroot('/')"), blocked),
    Case("mount", "privilege", escaped_if("import subprocess; subprocess.run(['mount', '-t', 'tmpfs', 'x', '/mnt'], check=True, capture_output=True)"), blocked),
    Case("mknod", "privilege", escaped_if("import os, stat; os.mknod('null2', stat.S_IFCHR | 0o666, os.makedev(1, 3))"), blocked),
    Case("chown-to-root", "privilege", escaped_if("import os; open('mine', 'w').close(); os.chown('mine', 0, 0)"), blocked),
    Case("sethostname", "privilege", escaped_if("import ctypes; assert ctypes.CDLL(None).sethostname(b'evil', 4) == 0"), blocked),
    Case("ptrace-runner", "privilege", escaped_if(
        "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.ptrace(16, os.getppid(), None, None) == 0, 'denied'\nlibc.ptrace(17, os.getppid(), None, None)"), blocked),
    Case("kill-runner", "privilege", escaped_if("import os, signal; os.kill(os.getppid(), signal.SIGKILL)"), blocked),
    Case("kill-everything", "privilege", "import os, signal\nn = 0\nfor pid in os.listdir('/proc'):\n"
         "    if pid.isdigit() and int(pid) != os.getpid():\n        try:\n            os.kill(int(pid), signal.SIGKILL); n += 1\n"
         "        except OSError:\n            pass\nprint('killed', n)\n", lambda r: r.exit_code == 0 and "killed 0" in r.stdout),
    Case("new-mount-namespace", "privilege", escaped_if("import ctypes; assert ctypes.CDLL(None).unshare(0x20000) == 0"), blocked),
]  # fmt: skip

HOST = [
    Case("write-etc", "host", escaped_if("open('/etc/xolver-evil', 'w').write('x')"), blocked),
    Case("write-usr", "host", escaped_if("open('/usr/lib/xolver-evil', 'w').write('x')"), blocked),
    Case("write-root-of-fs", "host", escaped_if("open('/xolver-evil', 'w').write('x')"), blocked),
    Case("read-shadow", "host", escaped_if("open('/etc/shadow').read()"), blocked),
    Case("host-run-canary", "host", escaped_if(f"open('{CANARY}').read()"), blocked),
    Case("host-env", "host", escaped_if(f"import os; assert '{HOST_SECRET}' in os.environ"), blocked),
    Case("proc-1-environ", "host", escaped_if(f"assert b'{HOST_SECRET}' in open('/proc/1/environ', 'rb').read()"), blocked),
    Case("proc-1-root", "host", escaped_if("import os; os.listdir('/proc/1/root/root')"), blocked),
    Case("forge-runner-report", "host", escaped_if(
        "open('/proc/1/fd/1', 'w').write('{\"stdout\": \"forged\", \"exit_code\": 0}\\n')"), blocked),
    Case("write-runner-stderr", "host", escaped_if("open('/proc/%d/fd/2' % __import__('os').getppid(), 'w').write('forged')"), blocked),
    Case("kernel-log", "host", escaped_if("import ctypes; assert ctypes.CDLL(None).klogctl(10, None, 0) > 0"), blocked),
]  # fmt: skip

LEFTOVERS = [
    Case("file-in-tmp", "leftovers", leaves("open('/tmp/leak', 'w').write('x')"), leftover),
    Case("dotfile-in-tmp", "leftovers", leaves("open('/tmp/.hidden', 'w').write('x')"), leftover),
    Case("odd-name-in-tmp", "leftovers", leaves("open('/tmp/a\\nb -rf *', 'w').write('x')"), leftover),
    Case("deep-dir-in-tmp", "leftovers", leaves("import os; os.makedirs('/tmp/' + '/'.join('d' * 40)); open('/tmp/' + '/'.join('d' * 40) + '/f', 'w')"), leftover),
    Case("unreadable-dir-in-tmp", "leftovers", leaves("import os; os.makedirs('/tmp/locked/in'); os.chmod('/tmp/locked/in', 0); os.chmod('/tmp/locked', 0)"), leftover),
    Case("symlink-in-tmp", "leftovers", leaves("import os; os.symlink('/etc/passwd', '/tmp/link')"), leftover),
    Case("fifo-in-tmp", "leftovers", leaves("import os; os.mkfifo('/tmp/fifo')"), leftover),
    Case("file-in-var-tmp", "leftovers", leaves("open('/var/tmp/leak', 'w').write('x')"), leftover),
    Case("file-in-dev-shm", "leftovers", leaves("open('/dev/shm/leak', 'w').write('x')"), leftover),
    Case("file-in-work-dir", "leftovers", leaves("open('leak', 'w').write('x')"), leftover),
    Case("symlink-in-work-dir", "leftovers", leaves("import os; os.symlink('/etc', 'data')"), leftover),
    Case("file-in-home", "leftovers", leaves("import os; open(os.path.expanduser('~/.bashrc'), 'w').write('x')"), leftover),
    Case("sysv-shared-memory", "leftovers", leaves("import ctypes; assert ctypes.CDLL(None).shmget(0x5eed, 4096, 0o1666) >= 0"), leftover),
    Case("sysv-message-queue", "leftovers", leaves("import ctypes; assert ctypes.CDLL(None).msgget(0x5eed, 0o1666) >= 0"), leftover),
    Case("sysv-semaphore", "leftovers", leaves("import ctypes; assert ctypes.CDLL(None).semget(0x5eed, 1, 0o1666) >= 0"), leftover),
    Case("background-session", "leftovers", leaves("import subprocess; subprocess.Popen(['sleep', '300'], start_new_session=True)"), leftover),
    Case("double-fork-writer", "leftovers", leaves(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(0.3)\n"
        "        while True:\n            open('/tmp/late', 'w').write('x'); time.sleep(0.01)\n    os._exit(0)\n"), leftover),
    Case("ignores-sigterm", "leftovers", leaves(
        "import os, signal, time\nif os.fork() == 0:\n    signal.signal(signal.SIGTERM, signal.SIG_IGN); os.setsid(); time.sleep(300)\n"), leftover),
    Case("stopped-process", "leftovers", leaves(
        "import os, signal\nif os.fork() == 0:\n    os.setsid(); os.kill(os.getpid(), signal.SIGSTOP)\n"), leftover),
]  # fmt: skip

CASES = [*NETWORK, *LIMITS_CASES, *PRIVILEGE, *HOST, *LEFTOVERS]

# Runs after each case in the same sandbox: everything a program may write is empty but for main.py, no
# System V IPC object and no process is left (but this one's ancestors).
CLEAN_CHECK = """
import os
places = {p: sorted(os.listdir(p)) for p in ('.', '/tmp', '/var/tmp', '/dev/shm', os.path.expanduser('~'))
          if os.path.isdir(p) and os.access(p, os.R_OK)}
places['.'] = [n for n in places['.'] if n != 'main.py']
places[os.path.expanduser('~')] = [n for n in places[os.path.expanduser('~')] if n != 'main.py']
if os.path.realpath('.') in (os.path.realpath('/tmp'),):
    places['/tmp'] = [n for n in places['/tmp'] if n != 'main.py']
if os.path.dirname(os.path.realpath('.')) == '/tmp':
    places['/tmp'] = [n for n in places['/tmp'] if n != os.path.basename(os.path.realpath('.'))]
ipc = [k for k in ('shm', 'msg', 'sem') if len(open('/proc/sysvipc/' + k).readlines()) > 1]
mine, pid = set(), os.getpid()
while pid > 0:
    mine.add(pid)
    pid = int(open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[1])
others = [open('/proc/%s/cmdline' % p).read()[:60] for p in os.listdir('/proc')
          if p.isdigit() and int(p) not in mine and int(p) != 1]
print('left', {p: n for p, n in places.items() if n}, ipc, others)
"""
CLEAN = "left {} [] []"
