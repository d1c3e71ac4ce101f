"""Admission control in front of the generator: at most `max_concurrent` answers generate at
once, at most `max_waiting` wait in line behind them (first come, first served), and none
waits longer than `timeout_s`. Anyone beyond that is turned away at once with Busy (HTTP 503
with Retry-After) instead of piling up until every client times out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from appliance.errors import Busy


class Ticket:
    """One request's place: in line, then admitted, then gone."""

    def __init__(self, admission: Admission):
        self._admission = admission
        self.admitted = False
        self.entered = time.monotonic()

    @property
    def position(self) -> int:
        """0 once admitted; otherwise how many are ahead in line, plus one."""
        return self._admission._position(self)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a slot; True once admitted."""
        return self._admission._wait(self, timeout)

    def leave(self) -> None:
        self._admission._leave(self)


class Admission:
    def __init__(self, max_concurrent: int, max_waiting: int, timeout_s: float):
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self._lock = threading.Condition()
        self._line: deque[Ticket] = deque()
        self._running = 0

    def enter(self) -> Ticket:
        """A place in line, or Busy when the line is full."""
        with self._lock:
            if self._running >= self.max_concurrent and len(self._line) >= self.max_waiting:
                raise Busy(
                    f"{self._running} answers are being generated and {len(self._line)} "
                    "questions are waiting; try again shortly"
                )
            ticket = Ticket(self)
            self._line.append(ticket)
            self._admit()
            return ticket

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A slot for a short generation that streams nothing (e.g. choosing a tool): waits
        in line up to `timeout_s`, then Busy."""
        ticket = self.enter()
        try:
            if not ticket.wait(self.timeout_s):
                raise Busy(
                    f"no slot came free within {self.timeout_s:g} s (limits.queue_timeout_s); "
                    "try again shortly"
                )
            yield
        finally:
            ticket.leave()

    def stats(self) -> dict:
        with self._lock:
            return {"running": self._running, "waiting": len(self._line)}

    def _admit(self) -> None:
        while self._line and self._running < self.max_concurrent:
            ticket = self._line.popleft()
            ticket.admitted = True
            self._running += 1
        self._lock.notify_all()

    def _position(self, ticket: Ticket) -> int:
        with self._lock:
            return 0 if ticket.admitted else self._line.index(ticket) + 1

    def _wait(self, ticket: Ticket, timeout: float) -> bool:
        with self._lock:
            self._lock.wait_for(lambda: ticket.admitted, timeout)
            return ticket.admitted

    def _leave(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.admitted:
                ticket.admitted = False
                self._running -= 1
            elif ticket in self._line:
                self._line.remove(ticket)
            self._admit()
