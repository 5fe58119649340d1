"""Runs one program inside a sandbox and reports what it did, as one JSON line on stdout.

This file runs *inside* the sandbox (a Docker container, or Linux namespaces made by `unshare`), with
the standard library only. It reads a JSON payload on stdin (with --serve, one per line, so a warm
container runs many programs without a `docker exec` each): {code, stdin, files, timeout, memory_mb,
pids, output_bytes, uid, gid, workdir, isolate}. As root it prepares the work directory (and, with
`isolate`, hides the host behind fresh tmpfs mounts), starts the program as `uid`/`gid` with resource
limits and a scrubbed environment, caps its output, kills it at the deadline, then kills every process
the program left behind and empties the work directory, so the next run starts clean.
"""

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/run", "/mnt", "/media", "/srv", "/opt", "/work")


def mount_tmpfs(target, size_mb):
    if os.path.isdir(target):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=1777", "tmpfs", target], check=True)


def isolate(workdir, disk_mb):
    """In a fresh mount namespace: nothing of the host's writable or private places stays visible."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    for place in HIDDEN:
        if place != os.path.dirname(workdir):
            mount_tmpfs(place, 1)
    os.makedirs(os.path.dirname(workdir), exist_ok=True)
    mount_tmpfs(os.path.dirname(workdir), disk_mb)


def limit(payload):
    def apply():
        os.setsid()
        memory = payload["memory_mb"] * 1024 * 1024
        if payload.get("isolate"):
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (payload["pids"], payload["pids"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (payload["disk_mb"] * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(payload["timeout"]) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        if payload.get("uid") is not None:
            os.setgroups([])
            os.setgid(payload["gid"])
            os.setuid(payload["uid"])

    return apply


def read_capped(stream, sink, cap, overflow):
    while True:
        chunk = stream.read(65536)
        if not chunk:
            return
        room = cap - sum(len(c) for c in sink)
        if room > 0:
            sink.append(chunk[:room])
        if len(chunk) > room:
            overflow.set()


def kill_user(uid):
    """Kill every process of `uid` (background processes, setsid escapees), repeatedly until none."""
    if uid is None:
        return
    for _ in range(20):
        found = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/status") as status:
                    line = next(x for x in status if x.startswith("Uid:"))
                if int(line.split()[1]) == uid:
                    os.kill(int(pid), signal.SIGKILL)
                    found = True
            except (OSError, StopIteration, ValueError):
                continue
        reap()
        if not found:
            return
        time.sleep(0.01)


def reap():
    """As PID 1 of the sandbox the runner inherits the program's orphans: collect their exit status."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run(payload):
    workdir = payload["workdir"]
    if payload.get("isolate"):
        isolate(workdir, payload["disk_mb"])
    os.makedirs(workdir, exist_ok=True)
    files = dict(payload.get("files") or {})
    files["main.py"] = payload["code"]
    for name, content in files.items():
        path = os.path.normpath(os.path.join(workdir, name))
        if not path.startswith(workdir + os.sep):
            raise SystemExit(f"file name escapes the work directory: {name}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(content)
    uid, gid = payload.get("uid"), payload.get("gid")
    if uid is not None:
        for root, dirs, names in os.walk(workdir):
            for name in [*dirs, *names, "."]:
                os.chown(os.path.join(root, name), uid, gid)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}  # fmt: skip
    start = time.monotonic()
    child = subprocess.Popen(
        [payload.get("python", "python3"), "-I", "main.py"],
        cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=limit(payload),
    )  # fmt: skip
    overflow = threading.Event()
    out, err = [], []
    readers = [
        threading.Thread(target=read_capped, args=(child.stdout, out, payload["output_bytes"], overflow), daemon=True),
        threading.Thread(target=read_capped, args=(child.stderr, err, payload["output_bytes"], overflow), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:  # the program may exit without reading its input
        child.stdin.write((payload.get("stdin") or "").encode())
        child.stdin.close()
    except OSError:
        child.stdin = None
    deadline = start + payload["timeout"]
    timed_out = False
    while child.poll() is None:
        if overflow.is_set():
            break
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(0.002)
    killed_by_us = child.poll() is None
    if killed_by_us:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    duration = time.monotonic() - start
    kill_user(uid)
    for reader in readers:
        reader.join(timeout=1)
    stderr = b"".join(err).decode(errors="replace")
    code = child.returncode
    oom = (code == -signal.SIGKILL and not killed_by_us) or "MemoryError" in stderr
    for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    return {
        "stdout": b"".join(out).decode(errors="replace"),
        "stderr": stderr,
        "exit_code": None if killed_by_us else code,
        "timed_out": timed_out,
        "oom_killed": bool(oom),
        "output_truncated": overflow.is_set(),
        "duration": duration,
    }


def main():
    """One payload on stdin, one report out; or, with --serve, one report per payload line, until EOF."""
    if "--serve" in sys.argv:
        for line in sys.stdin:
            sys.stdout.write(json.dumps(run(json.loads(line))) + "\n")
            sys.stdout.flush()
    else:
        sys.stdout.write(json.dumps(run(json.loads(sys.stdin.buffer.read()))) + "\n")


main()
