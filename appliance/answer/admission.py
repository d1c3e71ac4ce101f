"""Admission control in front of the LLM: one generation at a time, a bounded queue behind it.

A request that finds the queue full, or waits longer than the timeout, is turned away at
once with Busy (HTTP 503 + Retry-After) instead of piling up until every client times out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Busy(Exception):
    pass


class Admission:
    def __init__(self, max_waiting: int, timeout_s: float):
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self._running = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold the generator; yields the seconds spent waiting for it."""
        with self._count:
            if self._running.locked() and self._waiting >= self.max_waiting:
                raise Busy(f"{self._waiting} questions are already waiting; try again shortly")
            self._waiting += 1
        started = time.monotonic()
        try:
            acquired = self._running.acquire(timeout=self.timeout_s)
        finally:
            with self._count:
                self._waiting -= 1
        if not acquired:
            raise Busy(f"no answer slot came free within {self.timeout_s:g} s; try again")
        try:
            yield time.monotonic() - started
        finally:
            self._running.release()
