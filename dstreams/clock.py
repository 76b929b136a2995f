"""Clocks drive the batch timer: the system clock for real applications, a manual one for tests.

Times are integer milliseconds since the epoch, as in Spark, so batch times sit exactly on the grid
``zero + k * interval`` with no floating-point drift.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """What the scheduler needs from a clock."""

    def now_ms(self) -> int:
        raise NotImplementedError

    def wait_until(self, target_ms: int, stop: threading.Event) -> bool:
        """Block until ``now_ms() >= target_ms``; return False if ``stop`` was set first."""
        raise NotImplementedError

    def wake(self) -> None:
        """Interrupt waiters so they re-check their stop flag."""


class SystemClock(Clock):
    """Wall-clock time."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def wait_until(self, target_ms: int, stop: threading.Event) -> bool:
        while not stop.is_set():
            remaining = target_ms - self.now_ms()
            if remaining <= 0:
                return True
            stop.wait(min(remaining / 1000.0, 0.5))
        return False

    def wake(self) -> None:  # waiters poll their stop event
        pass


class ManualClock(Clock):
    """A clock that only moves when told to, so tests run batch by batch without sleeping.

    ``advance(seconds)`` moves time forward and, when a started StreamingContext uses this clock,
    returns only after every batch due by the new time has been processed and its listener events
    delivered. If some of those batches failed, it then raises the first of their errors (a
    :class:`~dstreams.errors.BatchError`, already logged once; the later batches still ran, and
    ``awaitTermination()`` raises it again, as in Spark). Called from inside a batch or a listener
    (to simulate processing time), it returns at once.

    >>> clock = ManualClock()
    >>> clock.advance(1.0)
    >>> clock.now_ms()
    1000
    """

    def __init__(self, start_ms: int = 0):
        self._now = int(start_ms)
        self._cond = threading.Condition()
        self._listeners: list = []

    def now_ms(self) -> int:
        with self._cond:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wait for the batches that became due; raises the first
        error of the batches that failed meanwhile, once they all ran."""
        delta = round(seconds * 1000)
        if delta < 0:
            raise ValueError(f"ManualClock cannot go back in time (advance({seconds}))")
        with self._cond:
            self._now += delta
            now = self._now
            self._cond.notify_all()
        self._notify(now)

    def set_time_ms(self, ms: int) -> None:
        """Set the time to ``ms`` (epoch milliseconds) and wait for the batches that became due
        (raising the first batch error, as ``advance``)."""
        with self._cond:
            if ms < self._now:
                raise ValueError(f"ManualClock cannot go back in time ({ms} < {self._now} ms)")
            self._now = ms
            self._cond.notify_all()
        self._notify(ms)

    def _notify(self, now: int) -> None:
        first: BaseException | None = None
        for wait_for_batches in list(self._listeners):
            try:
                wait_for_batches(now)
            except Exception as error:  # every context catches up before the first error is raised
                first = first or error
        if first is not None:
            raise first

    def wait_until(self, target_ms: int, stop: threading.Event) -> bool:
        with self._cond:
            while self._now < target_ms and not stop.is_set():
                self._cond.wait(0.5)
        return not stop.is_set()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # The scheduler registers a callback so that advance() can wait for processing.
    def _subscribe(self, callback) -> None:
        self._listeners.append(callback)

    def _unsubscribe(self, callback) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)
