"""A test harness that the program under test cannot reach. This file runs inside the sandbox.

Two processes in one sandbox run:
- the harness (this file as `main.py`): makes itself non-dumpable (so no process of the same user can
  read its memory or its descriptors through /proc or ptrace), forks the candidate with pipes of its own,
  then reads its orders (a per-run nonce, the calls to make or a HumanEval-style `check` with the
  problem's own code) from stdin;
- the candidate: a process forked before the orders are read (so it never holds them), which runs the
  program's code (`candidate.py`), then answers call requests with each result as plain, type-tagged JSON.

The harness alone writes to its stdout: one line `{"nonce": ..., ...}` with the results. Values come back
as data and are rebuilt here (or on the host) from the encoding, so the program's own `__eq__`, patched
builtins or an early exit cannot touch a verdict: a missing reply is a failed test. Standard library only.
"""

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import threading
import time

PR_SET_DUMPABLE = 4
CAP = 1 << 16  # bytes of the program's own stdout/stderr kept for the report


def encode(value, depth=0):
    """Plain values only, each tagged with its exact type; anything else raises TypeError."""
    if depth > 100:
        raise TypeError("value nested too deeply")
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": value}
    if kind is int:
        return {"t": "int", "v": str(value)}
    if kind is float:
        return {"t": "float", "v": repr(value)}
    if kind is str:
        return {"t": "str", "v": value}
    if kind is complex:
        return {"t": "complex", "v": [repr(value.real), repr(value.imag)]}
    if kind is bytes:
        return {"t": "bytes", "v": value.hex()}
    if kind in (list, tuple, set, frozenset):
        items = [encode(item, depth + 1) for item in value]
        if kind in (set, frozenset):
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return {"t": kind.__name__, "v": items}
    if kind is dict:
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    raise TypeError(f"a result of type {kind.__name__} is not a plain value")


def decode(data):
    """Rebuild a value from `encode`'s form, with this process's own types."""
    tag, value = data["t"], data.get("v")
    if tag == "none":
        return None
    if tag == "bool":
        return bool(value)
    if tag == "int":
        return int(value)
    if tag == "float":
        return float(value)
    if tag == "str":
        return str(value)
    if tag == "complex":
        return complex(float(value[0]), float(value[1]))
    if tag == "bytes":
        return bytes.fromhex(value)
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [decode(item) for item in value]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in value}
    raise ValueError(f"unknown tag {tag!r}")


# -- the candidate's side ------------------------------------------------------------------------------


def serve_candidate(requests, replies):
    """Run the program, say which names it defines, then answer requests until the harness hangs up."""
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    with open("candidate.py") as handle:
        source = handle.read()
    exec(compile(source, "candidate.py", "exec"), namespace)
    names = sorted(name for name, value in namespace.items() if callable(value) and not name.startswith("__"))
    replies.write(json.dumps({"id": 0, "ok": True, "names": names}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        try:
            if request["kind"] == "eval":
                value = eval(request["expr"], namespace)
            else:
                args = decode(request["args"])
                kwargs = decode(request["kwargs"])
                value = namespace[request["name"]](*args, **kwargs)
            reply = {"id": request["id"], "ok": True, "value": encode(value)}
        except BaseException as error:
            reply = {"id": request["id"], "ok": False, "error": f"{type(error).__name__}: {str(error)[:300]}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


# -- the harness's side --------------------------------------------------------------------------------


class CandidateFailed(Exception):
    """The candidate raised, returned something that is not a plain value, exited, or ran out of time."""


class Candidate:
    """The program's process: forked before the harness reads its orders, so it never holds them, the
    nonce, or the harness's stdout; it runs the program and answers calls over two pipes of its own."""

    def __init__(self):
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the program's side: never returns into the harness
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (requests_w, replies_r, out_r, err_r, out_w, err_w):
                os.close(fd)
            code = 0
            try:
                serve_candidate(os.fdopen(requests_r, "r"), os.fdopen(replies_w, "w"))
            except BaseException:  # the program's own failure: its traceback is what the report shows
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        for fd in (requests_r, replies_w, out_w, err_w):
            os.close(fd)
        self.status = None
        self.output = {"stdout": b"", "stderr": b""}
        self.drains = [
            threading.Thread(target=self._drain, args=(name, fd), daemon=True)
            for name, fd in (("stdout", out_r), ("stderr", err_r))
        ]
        for drain in self.drains:
            drain.start()
        self._requests = requests_w
        self._replies = replies_r
        self.buffer = b""
        self.next_id = 0
        self.deadline = time.monotonic() + 5.0
        self.names = []

    def ready(self, deadline):
        """Wait (until `deadline`) for the program to load and say which names it defines."""
        self.deadline = deadline
        self.names = self._reply(0)["names"]

    def poll(self):
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def last_words(self):
        """Why the program ended: the last line of its stderr, else its exit code."""
        give_up = time.monotonic() + max(0.0, min(1.0, self.deadline - time.monotonic()))
        while self.poll() is None and time.monotonic() < give_up:
            time.sleep(0.005)
        for drain in self.drains:
            drain.join(timeout=0.5)
        lines = self.output["stderr"].decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else f"exit code {self.status}"

    def _drain(self, name, fd):
        while chunk := os.read(fd, 65536):
            if len(self.output[name]) < CAP:
                self.output[name] += chunk[: CAP - len(self.output[name])]

    def _reply(self, expected_id):
        line = self._readline()
        if not line:
            raise CandidateFailed(f"the program ended early: {self.last_words()}")
        reply = json.loads(line)
        if type(reply) is not dict or reply.get("id") != expected_id:
            raise CandidateFailed("the program broke the call protocol")
        if not reply.get("ok"):
            raise CandidateFailed(str(reply.get("error"))[:300])
        return reply

    def _readline(self):
        """One reply line, or b"" when the program is gone; past the deadline the program is killed."""
        while b"\n" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                self.close()
                raise CandidateFailed("timed out")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                return b""
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def request(self, **request):
        self.next_id += 1
        data = (json.dumps({"id": self.next_id, **request}) + "\n").encode()
        try:
            while data:
                data = data[os.write(self._requests, data) :]
        except OSError as error:
            raise CandidateFailed(f"the program ended early ({error})") from None
        return decode(self._reply(self.next_id)["value"])

    def call(self, name, *args, **kwargs):
        return self.request(kind="call", name=name, args=encode(list(args)), kwargs=encode(kwargs))

    def close(self):
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -signal.SIGKILL


class Remote:
    """A function of the program, called in the candidate's process; only plain values cross."""

    def __init__(self, candidate, name):
        self._candidate = candidate
        self._name = name

    def __call__(self, *args, **kwargs):
        return self._candidate.call(self._name, *args, **kwargs)


def run_check(orders, candidate):
    """HumanEval style: the test code runs here, on top of the problem's own code (its helpers), with the
    program's entry point as `candidate` (and under its own name); the program is never imported here."""
    entry = orders["entry_point"]
    if entry not in candidate.names:
        raise CandidateFailed(f"the program defines no `{entry}`")
    namespace = {"__name__": "checker"}
    context = orders.get("context")
    if context:
        exec(compile(context, "problem.py", "exec"), namespace)
    namespace[entry] = Remote(candidate, entry)
    exec(compile(orders["check"], "check.py", "exec"), namespace)
    namespace["check"](namespace[entry])


def run_calls(orders, candidate):
    results = []
    for expression in orders["calls"]:
        try:
            results.append({"ok": True, "value": encode(candidate.request(kind="eval", expr=expression))})
        except CandidateFailed as error:
            results.append({"ok": False, "error": str(error)})
            if candidate.poll() is not None:
                results += [{"ok": False, "error": str(error)}] * (len(orders["calls"]) - len(results))
                break
    return results


def harness():
    """Protect this process, fork the program's process, then read the orders and run the tests."""
    protected = ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0  # inherited by the fork
    candidate = Candidate() if protected else None
    orders = json.loads(sys.stdin.read())
    report = {"nonce": orders["nonce"]}
    try:
        if candidate is None:  # never run a test unprotected
            raise CandidateFailed("the harness could not make itself non-dumpable")
        candidate.ready(time.monotonic() + orders["seconds"])
        if orders["mode"] == "check":
            run_check(orders, candidate)
            report["passed"] = True
        else:
            report["results"] = run_calls(orders, candidate)
    except Exception as error:  # a failed check, a candidate that failed, or broken check code: not a pass
        detail = "assertion failed" if type(error) is AssertionError else str(error)
        if type(error) not in (AssertionError, CandidateFailed):
            detail = f"{type(error).__name__}: {error}"
        report.update(passed=False, detail=detail[:300])
    finally:
        if candidate is not None:
            candidate.close()
            report["program_stderr"] = candidate.output["stderr"][-2000:].decode(errors="replace")
    sys.stdout.write("\n" + json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    harness()
