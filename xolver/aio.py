"""The asyncio pieces every layer shares: a capacity limit per event loop, and the one sync bridge.

An object such as a model client or a sandbox may serve several event loops in turn (the sync API runs
each call in a loop of its own), so its limit keeps one semaphore per loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


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
