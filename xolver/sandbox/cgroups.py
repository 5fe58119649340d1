"""A cgroup per process-sandbox run (root only): the run's processes, memory and CPU bounded as a whole,
whatever the program forks, and the kernel's count of OOM kills read back. Works on cgroup v2 (one
unified hierarchy) and v1 (a hierarchy per controller, as on this project's Debian hosts)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from xolver.sandbox.base import Limits
from xolver.sandbox.common import RUNNER_MB, RUNNER_TASKS

ROOT = Path("/sys/fs/cgroup")
GROUP = "xolver-sandbox"
PERIOD_US = 100_000


class RunCgroup:
    """The cgroup directories of one run (one on v2, one per controller on v1)."""

    def __init__(self, directories: list[Path], oom_counter: Path, kill_file: Path | None) -> None:
        self.directories = directories
        self.oom_counter = oom_counter
        self._kill_file = kill_file

    @classmethod
    def create(cls, name: str, limits: Limits) -> RunCgroup:
        memory = (limits.memory_mb + RUNNER_MB) * 1024 * 1024
        pids = limits.pids + RUNNER_TASKS
        quota = max(1000, int(limits.cpus * PERIOD_US))
        if (ROOT / "cgroup.controllers").exists():  # v2
            _enable(ROOT, ROOT / GROUP)
            cpu = f"{quota} {PERIOD_US}"
            settings = {GROUP: {"pids.max": pids, "memory.max": memory, "memory.swap.max": 0, "cpu.max": cpu}}
        else:
            settings = {
                f"pids/{GROUP}": {"pids.max": pids},
                f"memory/{GROUP}": {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
                f"cpu/{GROUP}": {"cpu.cfs_period_us": PERIOD_US, "cpu.cfs_quota_us": quota},
            }
        made: list[Path] = []
        try:
            for parent, values in settings.items():
                run = ROOT / parent / name
                run.mkdir(parents=True)
                made.append(run)
                _write(run, values)
        except OSError:
            cls(made, Path(), None).remove()
            raise
        if len(made) == 1:
            return cls(made, made[0] / "memory.events", made[0] / "cgroup.kill")
        return cls(made, made[1] / "memory.oom_control", None)

    def processes(self) -> list[int]:
        found: set[int] = set()
        for directory in self.directories:
            with contextlib.suppress(FileNotFoundError):
                found.update(int(pid) for pid in (directory / "cgroup.procs").read_text().split())
        return sorted(found)

    def remove(self) -> None:
        """Kill whatever is left in the run's cgroups, wait for it to go, and delete them."""
        for _ in range(500):
            left = self.processes()
            if not left:
                break
            if self._kill_file is not None and self._kill_file.exists():
                self._kill_file.write_text("1")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)
        for directory in self.directories:
            for _ in range(500):  # the last tasks leave a moment after they are reaped
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.002)


def _write(directory: Path, values: dict[str, int | str]) -> None:
    for name, value in values.items():
        path = directory / name
        if path.exists():  # memory.memsw.* and memory.swap.max exist only with swap accounting
            path.write_text(str(value))


def _enable(root: Path, parent: Path) -> None:
    """On v2, controllers reach a child only when its parent hands them down."""
    wanted = ("pids", "memory", "cpu")
    for directory in (root, parent):
        directory.mkdir(exist_ok=True)
        enabled = (directory / "cgroup.subtree_control").read_text().split()
        missing = [name for name in wanted if name not in enabled]
        if missing:
            (directory / "cgroup.subtree_control").write_text(" ".join(f"+{name}" for name in missing))


def cgroups_problem() -> str | None:
    """Why per-run cgroups cannot be made here, or None: tried by making (and deleting) one."""
    if os.geteuid() != 0:
        return "not root"
    try:
        RunCgroup.create(f"probe-{os.getpid()}", Limits()).remove()
    except OSError as exc:
        return f"cannot make a cgroup under {ROOT}: {exc.strerror or exc}"
    return None
