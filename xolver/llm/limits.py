"""How many calls one model endpoint gets at once: a fixed limit, or one that finds the server's capacity.

A server's capacity is rarely known to its users (a vLLM server on one GPU takes hundreds of sequences, a
llama.cpp server a handful, a provider whatever its rate limit allows) and it moves with prompt length, so
the default limit adapts, gradient-style as in Netflix's concurrency-limits: it starts at `initial`, grows
while replies come back about as fast as the fastest seen for that kind of call, shrinks in proportion
when they slow down (requests queueing in the server, or decoding slower in a fuller batch), and is cut
on a 429, a 5xx or a timeout. A `Retry-After` holds every new call to the endpoint until it has passed.

Both kinds hold one admission queue per event loop (the sync API runs each call in a loop of its own), and
are shared by every client in the process that calls the same endpoint with the same policy
(`shared_limit`), so two teams on one server do not each take its whole capacity.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections import deque
from collections.abc import Hashable

from xolver.errors import ModelError, ModelRateLimited, ModelServerError, ModelTimeout
from xolver.schema import LimitState

REJECTED_STATUS = {429, 503}  # the server turned the call away before doing any work: send it again later


def rejected(exc: ModelError) -> bool:
    """Whether the server refused the call for load (429, 503): no work was done, and the same call sent again
    once the limit has backed off will be served."""
    return isinstance(exc, ModelRateLimited) or (isinstance(exc, ModelServerError) and exc.status in REJECTED_STATUS)


class _Queue:
    """One event loop's calls: those in flight, and those waiting for a slot in arrival order."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.timer: asyncio.TimerHandle | None = None


class ConcurrencyLimit:
    """At most `limit` calls in flight; every new call waits out a provider's `Retry-After`."""

    kind = "fixed"

    def __init__(self, limit: int, *, endpoint: str = "") -> None:
        if limit < 1:
            raise ValueError("a limit must be at least 1")
        self.value = float(limit)
        self.endpoint = endpoint
        self.rejections = 0
        self.cuts = 0
        self.resume_at = 0.0  # time.monotonic() before which no call is sent
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()
        _live.add(self)

    @property
    def allowed(self) -> int:
        return max(1, int(self.value))

    @property
    def in_flight(self) -> int:
        return sum(queue.in_flight for queue in list(self._queues.values()))

    def state(self) -> LimitState:
        return LimitState(
            endpoint=self.endpoint, kind=self.kind, limit=self.allowed, in_flight=self.in_flight,
            rejections=self.rejections, cuts=self.cuts,
        )  # fmt: skip

    async def acquire(self) -> None:
        """Wait for a slot (first come, first served); pair with `release`."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        if not queue.waiting and queue.in_flight < self.allowed and time.monotonic() >= self.resume_at:
            queue.in_flight += 1
            return
        ticket: asyncio.Future[None] = loop.create_future()
        queue.waiting.append(ticket)
        self._admit(queue)
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():  # admitted as it was cancelled: the slot goes on
                self.release()
            raise

    def release(self) -> None:
        queue = self._queues[asyncio.get_running_loop()]
        queue.in_flight -= 1
        self._admit(queue)

    def _admit(self, queue: _Queue) -> None:
        """Hand free slots to the waiting calls, or come back when a `Retry-After` pause ends."""
        pause = self.resume_at - time.monotonic()
        if pause > 0:
            if queue.timer is None:
                queue.timer = asyncio.get_running_loop().call_later(pause, self._resume, queue)
            return
        while queue.waiting and queue.in_flight < self.allowed:
            ticket = queue.waiting.popleft()
            if not ticket.done():
                queue.in_flight += 1
                ticket.set_result(None)

    def _resume(self, queue: _Queue) -> None:
        queue.timer = None
        self._admit(queue)

    def succeeded(self, kind: Hashable, seconds: float, tokens: int) -> None:
        """A reply came back in `seconds` with `tokens` completion tokens, for a call of `kind`."""

    def overloaded(self, exc: ModelError) -> None:
        """The server refused or failed the call; a `Retry-After` it gave holds every new call."""
        if rejected(exc):
            self.rejections += 1
        if exc.retry_after:
            self.resume_at = max(self.resume_at, time.monotonic() + exc.retry_after)


class AdaptiveLimit(ConcurrencyLimit):
    """A limit that follows the server, gradient-style as in Netflix's concurrency-limits.

    Each reply's pace (seconds per completion token) is compared with the fastest pace seen for its kind of
    call: the ratio is its latency inflation. Once per round trip (a window as long as the fastest call),
    the limit moves on the window's mean inflation: above `tolerance`, down to `limit * tolerance / inflation`
    (at least half) plus `sqrt(limit)`, so it settles near `tolerance` times the load the server serves at
    full speed and never at its queue; at or below it, and only while at least half the limit was in use (a
    limit its callers do not fill says nothing about the server), it doubles until the first sign of
    congestion (slow start, as in TCP) and then grows by `sqrt(limit)`. An overload (429, 5xx, timeout)
    cuts it by `backoff` at once, at most once per window.
    """

    kind = "adaptive"

    def __init__(
        self,
        *,
        initial: int = 16,
        ceiling: int = 1024,
        minimum: int = 1,
        tolerance: float = 1.5,
        backoff: float = 0.9,
        endpoint: str = "",
    ) -> None:
        super().__init__(min(initial, ceiling), endpoint=endpoint)
        self.ceiling = ceiling
        self.minimum = minimum
        self.tolerance = tolerance
        self.backoff = backoff
        self.slow_start = True
        self._fastest: dict[Hashable, float] = {}
        self._round_trip = math.inf  # the fastest call: how long a window lasts
        self._window_start = time.monotonic()
        self._ratios: list[float] = []
        self._busiest = 0
        self._overloaded = False
        self._last_cut = -math.inf

    def succeeded(self, kind: Hashable, seconds: float, tokens: int) -> None:
        pace = seconds / max(1, tokens)
        fastest = self._fastest[kind] = min(pace, self._fastest.get(kind, pace))
        self._round_trip = min(self._round_trip, seconds)
        self._ratios.append(pace / max(fastest, 1e-9))
        self._busiest = max(self._busiest, self.in_flight)
        now = time.monotonic()
        if now - self._window_start >= self._round_trip:
            self._adjust(sum(self._ratios) / len(self._ratios))
            self._window_start, self._ratios, self._busiest, self._overloaded = now, [], 0, False

    def _adjust(self, inflation: float) -> None:
        value = self.value
        if inflation > self.tolerance:
            self.slow_start = False
            value = min(value, value * max(0.5, self.tolerance / inflation) + math.sqrt(value))
        elif not self._overloaded and self._busiest >= value / 2:
            value = 2 * value if self.slow_start else value + math.sqrt(value)
        self.value = min(float(self.ceiling), max(float(self.minimum), value))

    def overloaded(self, exc: ModelError) -> None:
        super().overloaded(exc)
        if not (rejected(exc) or isinstance(exc, ModelTimeout | ModelServerError)):
            return
        self._overloaded, self.slow_start = True, False
        now = time.monotonic()
        if now - self._last_cut >= min(self._round_trip, 60.0):
            self._last_cut = now
            self.cuts += 1
            self.value = max(float(self.minimum), self.value * self.backoff)


_live: weakref.WeakSet[ConcurrencyLimit] = weakref.WeakSet()
_shared: weakref.WeakValueDictionary[Hashable, ConcurrencyLimit] = weakref.WeakValueDictionary()


def new_limit(endpoint: str, *, adaptive: bool, maximum: int, initial: int = 16) -> ConcurrencyLimit:
    """An adaptive limit up to `maximum` starting at `initial`, or exactly `maximum`."""
    if adaptive:
        return AdaptiveLimit(initial=initial, ceiling=maximum, endpoint=endpoint)
    return ConcurrencyLimit(maximum, endpoint=endpoint)


def shared_limit(endpoint: str, *, adaptive: bool, maximum: int, initial: int = 16) -> ConcurrencyLimit:
    """The limit of `endpoint` under this policy, shared with every client in the process that calls it under
    the same policy, for as long as one of them lives."""
    key = (endpoint, adaptive, maximum, initial)
    limit = _shared.get(key)
    if limit is None:
        limit = _shared[key] = new_limit(endpoint, adaptive=adaptive, maximum=maximum, initial=initial)
    return limit


def live_limits() -> list[LimitState]:
    """The limits of this process's model endpoints now, busiest first: what a progress line shows."""
    return sorted((limit.state() for limit in list(_live)), key=lambda state: -state.in_flight)
