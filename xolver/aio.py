"""The asyncio pieces every layer shares: a capacity limit per event loop, the one sync bridge, and logs
scoped to a block and the tasks it starts.

An object such as a model client or a sandbox may serve several event loops in turn (the sync API runs
each call in a loop of its own), so its limit keeps one semaphore per loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ScopedLog(Generic[T]):
    """Items recorded inside `with log.scope() as items:` (and in tasks started there) land in `items`, and
    in every enclosing scope's: one shared service serves many concurrent solves, each sees its own."""

    def __init__(self, name: str) -> None:
        self._open: ContextVar[tuple[list[T], ...]] = ContextVar(name, default=())

    @contextmanager
    def scope(self) -> Iterator[list[T]]:
        items: list[T] = []
        token = self._open.set((*self._open.get(), items))
        try:
            yield items
        finally:
            self._open.reset(token)

    def record(self, item: T) -> None:
        for items in self._open.get():
            items.append(item)

    def recording(self) -> bool:
        return bool(self._open.get())


class LoopLimit:
    """At most `limit` holders at once within each event loop: `async with limit.slot(): ...`."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a limit must be at least 1")
        self.limit = limit
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        return semaphore


def run_sync(coro: Coroutine[Any, Any, T], *, in_loop: str | None = None) -> T:
    """The one bridge from sync to async code.

    Outside an event loop the coroutine runs in a loop of its own. Inside one (Jupyter, async code) a
    blocking call would stall that loop, so this refuses with `in_loop` as the hint, except for work that
    must happen whatever the caller is doing (closing): `in_loop=None` runs it in a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    if in_loop is not None:
        coro.close()
        raise RuntimeError(f"a sync Xolver method was called inside a running event loop: {in_loop}")
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(("ok", asyncio.run(coro)))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(("error", exc))

    thread = threading.Thread(target=target, name="xolver-sync-bridge")
    thread.start()
    thread.join()
    status, value = outcome[0]
    if status == "error":
        raise value
    return value


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The first error a task group collected: callers of a fan-out see the error, not the group."""
    first = group.exceptions[0]
    return first_error(first) if isinstance(first, BaseExceptionGroup) else first
