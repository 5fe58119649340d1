"""Runs programs inside a sandbox and reports what each did, as one JSON line per run on stdout.

This file runs *inside* the sandbox (a Docker container, or namespaces made by `unshare`), with the
standard library only. A run arrives as a JSON header line followed by `stdin_size` raw bytes of the
program's input; with --serve runs follow one another until EOF (a warm container), without it there is
one. The header: {code, files, timeout, memory_mb, pids, disk_mb, output_bytes, uid, isolate, rlimit_as,
cgroups, oom_counter, workdir, writable, python, stdin_size}.

For each run, as root (of the container, or of the namespaces):
- with `isolate` (the process backend, once per runner): join the run's cgroups, then hide the host's
  writable and private places behind fresh tmpfs mounts;
- write `files` and main.py into the work directory (never through a link), then start the program as
  `uid` (a uid of this run alone) in its own session, with rlimits, a scrubbed environment and the OOM
  killer's preference;
- feed stdin from one thread and read output from two, so the deadline counts from the start whatever
  the program does with its input;
- kill every other process in the PID namespace with kill(-1), which a fork cannot outrun, then (in a
  warm container) empty every writable place and remove System V IPC objects, and say whether that left
  the container clean: a container that is not clean is thrown away, never reused.
"""

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

LIBC = ctypes.CDLL(None, use_errno=True)
HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/run", "/mnt", "/media", "/srv", "/opt", "/work")
WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def join_cgroups(paths):
    """Move the runner, and so everything it starts, into the run's cgroups (made by the host)."""
    for path in paths:
        write(os.path.join(path, "cgroup.procs"), "0")


def isolate(disk_mb):
    """In a fresh mount namespace: nothing of the host's writable or private places stays visible, and
    every place the program may write is a fresh, size-limited tmpfs (the work directory is in /tmp)."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    # a sysfs of the run's own network namespace: the host's interfaces are not listed
    subprocess.run(["mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", "/sys"], check=True)
    for place in HIDDEN:
        if os.path.isdir(place):
            size = disk_mb if place in WRITABLE else 1
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}m,mode=1777,nosuid,nodev", "tmpfs", place],
                           check=True)  # fmt: skip


def write_files(workdir, files, uid):
    """The run's files, created fresh (never through a link) and owned by the program's user."""
    for name, content in files.items():
        parts = name.split("/")
        if name.startswith("/") or any(part in ("", ".", "..") or "\0" in part for part in parts):
            raise ValueError(f"unsafe file name {name!r}")
        directory = workdir
        for part in parts[:-1]:
            directory = os.path.join(directory, part)
            if not os.path.lexists(directory):
                os.mkdir(directory, 0o755)
                os.chown(directory, uid, uid)
        path = os.path.join(directory, parts[-1])
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        os.chown(path, uid, uid)
    os.chown(workdir, uid, uid)


def become_program(header):
    """In the forked child, before exec: the program's session, limits and user."""

    def apply():
        os.setsid()
        write("/proc/self/oom_score_adj", "1000")  # under memory pressure the program goes first, not the runner
        memory = header["memory_mb"] * 1024 * 1024
        if header["rlimit_as"]:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (header["pids"], header["pids"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (header["disk_mb"] * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(header["timeout"]) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        uid = header["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    return apply


def feed(pipe, data):
    """The program's input, from a thread: a program that never reads it cannot hold up the deadline."""
    with contextlib.suppress(OSError):
        view = memoryview(data)
        while view:
            view = view[os.write(pipe.fileno(), view[:65536]) :]
    with contextlib.suppress(OSError):
        pipe.close()


def read_capped(stream, sink, cap, overflow):
    size = 0
    while True:
        chunk = stream.read1(65536)
        if not chunk:
            return
        if size < cap:
            sink.append(chunk[: cap - size])
        size += len(chunk)
        if size > cap:
            overflow.set()


def others():
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and int(pid) != os.getpid()]


def reap():
    """As PID 1 of its namespace the runner inherits the program's orphans: collect their exit status."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_the_rest():
    """Every process but the runner dies. kill(-1) signals them all at once under the kernel's task list
    lock, so a process forking meanwhile cannot leave a child behind; repeated until /proc is empty."""
    for _ in range(500):
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        reap()
        if not others():
            return True
        time.sleep(0.002)
    return False


def oom_kills(handle):
    """The kernel's count of OOM kills in the run's memory cgroup, or None where it cannot be read."""
    if handle is None:
        return None
    for line in os.pread(handle, 4096, 0).decode().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return None


def remove_ipc():
    """Delete System V IPC objects (they outlive their processes), acting as each one's creator."""
    removers = {"shm": LIBC.shmctl, "msg": LIBC.msgctl, "sem": LIBC.semctl}
    for kind, remove in removers.items():
        with open(f"/proc/sysvipc/{kind}") as table:
            rows = [line.split() for line in table]
        if len(rows) < 2:
            continue
        creator = rows[0].index("cuid")
        for row in rows[1:]:
            os.seteuid(int(row[creator]))
            try:
                remove(int(row[1]), 0, None) if kind != "sem" else remove(int(row[1]), 0, 0)
            finally:
                os.seteuid(0)


def ipc_is_empty():
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as table:
            if len(table.readlines()) > 1:
                return False
    return True


def empty(places):
    """Remove everything a run left in the writable places; True when they are all empty afterwards."""
    places = [place for place in places if os.path.isdir(place)]
    for place in places:
        for entry in os.scandir(place):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
    return not any(os.listdir(place) for place in places)


def run(header, stdin, oom_counter):
    workdir = header["workdir"]
    os.makedirs(workdir, exist_ok=True)
    write_files(workdir, {**header["files"], "main.py": header["code"]}, header["uid"])
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "USER": "sandbox", "LANG": "C.UTF-8",
           "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}  # fmt: skip
    ooms_before = oom_kills(oom_counter)
    start = time.monotonic()
    child = subprocess.Popen(
        [header["python"], "-I", "main.py"],
        cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=become_program(header),
    )  # fmt: skip
    overflow = threading.Event()
    out, err = [], []
    threads = [
        threading.Thread(target=feed, args=(child.stdin, stdin), daemon=True),
        threading.Thread(target=read_capped, args=(child.stdout, out, header["output_bytes"], overflow), daemon=True),
        threading.Thread(target=read_capped, args=(child.stderr, err, header["output_bytes"], overflow), daemon=True),
    ]
    for thread in threads:
        thread.start()
    deadline = start + header["timeout"]
    while child.poll() is None and not overflow.is_set() and time.monotonic() < deadline:
        overflow.wait(0.002)
    killed_by_us = child.poll() is None
    timed_out = killed_by_us and not overflow.is_set()
    if killed_by_us:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    child.wait()
    duration = time.monotonic() - start
    alone = kill_the_rest()
    for thread in threads:
        thread.join(timeout=1)
    for pipe in (child.stdout, child.stderr):
        pipe.close()
    stderr = b"".join(err).decode(errors="replace")
    ooms_after = oom_kills(oom_counter)
    # without a cgroup to ask, the address-space limit turns an allocation into a MemoryError
    oom = ooms_after > ooms_before if ooms_after is not None else "MemoryError" in stderr
    clean = alone
    if header["writable"]:
        remove_ipc()
        clean = clean and empty(header["writable"]) and ipc_is_empty()
    return {
        "stdout": b"".join(out).decode(errors="replace"),
        "stderr": stderr,
        "exit_code": None if killed_by_us else child.returncode,
        "timed_out": timed_out,
        "oom_killed": oom,
        "output_truncated": overflow.is_set(),
        "duration": duration,
        "clean": clean,
    }


def receive(stream):
    """One run's header and its stdin bytes; None at EOF."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    stdin = stream.read(header["stdin_size"]) if header["stdin_size"] else b""
    if len(stdin) != header["stdin_size"]:
        raise EOFError("the run's input was cut short")
    return header, stdin


def report(result):
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def main():
    """One run, or with --serve one run per header until EOF."""
    received = receive(sys.stdin.buffer)
    if received is None:
        return
    header, _ = received
    if header["cgroups"]:
        join_cgroups(header["cgroups"])
    oom_counter = os.open(header["oom_counter"], os.O_RDONLY) if header["oom_counter"] else None
    if header["isolate"]:
        isolate(header["disk_mb"])
    while received is not None:
        try:
            report(run(*received, oom_counter))
        except Exception as exc:  # a run the runner could not carry out: say so, and leave the container
            report({"error": f"{type(exc).__name__}: {exc}"})
            return
        if "--serve" not in sys.argv:
            return
        received = receive(sys.stdin.buffer)


main()
