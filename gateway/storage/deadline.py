"""Deadlines on Redis's own clock, so a write the client gave up on is never applied later.

A Redis that freezes (SIGSTOP, a stalled VM, a long fork) still holds the
commands it had received, and runs them when it wakes up, long after the
client timed out and acted on the failure. A script that carries a deadline
and compares it with ``redis.call('TIME')`` refuses to run late instead.

The deadline must be on Redis's clock, and the two hosts' clocks may differ by
any amount, so nothing here assumes they agree. Every script answer carries
Redis's ``TIME``; ``offset`` is that time minus the local monotonic clock read
*after* the answer arrived. The script ran before the answer arrived, so this
is a lower bound of the true offset (short of it by at most one round trip),
and a deadline built from it falls *earlier* on Redis's clock than the moment
the client gives up: a safe error, paid for only by a slightly shorter budget.

What remains assumed: Redis's clock does not step backwards by more than
the reserve (``margin``, a quarter of the timeout by default) between two
answers (NTP slews; a manual step back could reopen the window by its excess).
The first deadline, and the first after a failure, uses an offset from a plain
``TIME`` call, measured the same way. Time spent waiting for a pooled
connection counts against the budget: under overload a script may be refused
as late, which fails closed (the record is spooled, the caller gets a 503).
"""

from __future__ import annotations

import time

__all__ = ["RedisDeadline"]


def _redis_ms(seconds: str | int, micros: str | int) -> float:
    return int(seconds) * 1000 + int(micros) / 1000


class RedisDeadline:
    """Turns the client's timeout into an absolute deadline on Redis's clock."""

    def __init__(self, timeout: float | None, *, margin: float = 0.25) -> None:
        #: The client's socket timeout (seconds), None if it waits forever.
        self._timeout = timeout
        #: Part of the timeout kept in reserve for clock drift between answers.
        self._margin = margin
        self._offset_ms: float | None = None

    @property
    def needed(self) -> bool:
        """True when a deadline can be set but Redis's clock has not been read yet."""
        return self._timeout is not None and self._offset_ms is None

    def observe(self, seconds: str | int, micros: str | int) -> None:
        """Record Redis's ``TIME`` from an answer that has just arrived."""
        self._offset_ms = _redis_ms(seconds, micros) - time.monotonic() * 1000

    def forget(self) -> None:
        """After a reconnect the server (and its clock) may be another one."""
        self._offset_ms = None

    def deadline(self) -> str:
        """The deadline for a script sent from now on, in ms on Redis's clock ("" for none).

        Computed before the call, so time spent waiting for a connection or in
        the send only shortens the budget; the client gives up at least
        ``timeout`` after this moment.
        """
        if self._timeout is None or self._offset_ms is None:
            return ""
        budget_ms = self._timeout * (1 - self._margin) * 1000
        return str(int(time.monotonic() * 1000 + self._offset_ms + budget_ms))
