"""Restart backoff with jitter, after Akka's ``BackoffSupervisor`` (pure, no threads).

The n-th restart in a row (n counts from 0) waits::

    min(max_s, min_s * 2**n) * (1 + rand * random_factor)

The jitter is applied after the cap, so a delay may exceed ``max_s`` by up to
``random_factor``. From n >= 30 the delay is exactly ``max_s`` (no jitter), as
in Akka, which also keeps ``2**n`` from overflowing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from otp.specs import Backoff

__all__ = ["BackoffState", "backoff_delay"]

_OVERFLOW_GUARD = 30


def backoff_delay(restart_count: int, min_s: float, max_s: float, random_factor: float,
                  rand: float) -> float:
    """Return the delay in seconds before restart number ``restart_count`` (from 0).

    Args:
        restart_count: restarts already done in this run of failures.
        min_s: the first delay.
        max_s: the cap before jitter.
        random_factor: the largest jitter, as a fraction of the delay.
        rand: a random number in [0, 1), injected so tests can fix it.
    """
    if restart_count >= _OVERFLOW_GUARD:
        return max_s
    return float(min(max_s, min_s * 2**restart_count) * (1 + rand * random_factor))


class BackoffState:
    """The backoff of one child: how many restarts in a row, and when the last was due.

    The count goes back to 0 when a failure comes ``reset_after`` seconds or
    more after the previous restart was due (the previous failure plus its
    delay). Akka starts its reset timer once the restart has happened, so a
    long delay does not by itself reset the count.
    """

    __slots__ = ("_due", "clock", "restart_count", "rng", "spec")

    def __init__(self, spec: Backoff, clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random) -> None:
        self.spec = spec
        self.clock = clock
        self.rng = rng
        self.restart_count = 0
        self._due: float | None = None

    def next_delay(self) -> float | None:
        """Record a failure now; return the delay before restarting, in seconds.

        Returns:
            The delay, or None when ``spec.max_restarts`` restarts in a row
            have been used up: the child must not be restarted.
        """
        now = self.clock()
        if self._due is not None and now - self._due >= self.spec.reset_after:
            self.restart_count = 0
        limit = self.spec.max_restarts
        if limit is not None and self.restart_count >= limit:
            return None
        delay = backoff_delay(self.restart_count, self.spec.min, self.spec.max,
                              self.spec.random_factor, self.rng())
        self.restart_count += 1
        self._due = now + delay
        return delay

    def reset(self) -> None:
        """Start again from the first delay."""
        self.restart_count = 0
        self._due = None

    def __repr__(self) -> str:
        return f"BackoffState(restart_count={self.restart_count}, spec={self.spec!r})"
