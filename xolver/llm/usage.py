"""Usage accounting and call records scoped by context: a solve (and each agent turn) opens a scope,
calls charge it (and a solve's call log records them).

Scopes nest and are inherited by tasks started inside them, so one shared model client serves many
concurrent solves while each solve still sees only its own usage and calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from xolver.aio import ScopedLog
from xolver.schema import ModelCall, Usage

_scopes: ContextVar[tuple[Usage, ...]] = ContextVar("xolver_usage_scopes", default=())
_calls: ScopedLog[ModelCall] = ScopedLog("xolver_call_logs")


@contextmanager
def usage_scope(usage: Usage | None = None) -> Iterator[Usage]:
    """Charge every model call made inside this block (and tasks it starts) to `usage`."""
    usage = usage if usage is not None else Usage()
    token = _scopes.set((*_scopes.get(), usage))
    try:
        yield usage
    finally:
        _scopes.reset(token)


def charge(delta: Usage) -> None:
    """Add `delta` to every open scope."""
    for usage in _scopes.get():
        usage.add(delta)


call_log = _calls.scope  # `with call_log() as calls:` records every model call made inside, in the order they end
log_call = _calls.record
