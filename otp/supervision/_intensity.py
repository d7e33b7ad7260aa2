"""Restart intensity: OTP's sliding window of restarts, as a pure function.

A supervisor allows at most ``intensity`` restarts within any ``period``
seconds. Every restart *attempt* (including a retry after a failed restart)
calls :func:`add_restart`; when it answers False the supervisor gives up: it
logs ``reached_max_restart_intensity``, terminates all its children in reverse
start order and exits ``shutdown``.

This is ``add_restart/1`` of OTP's ``supervisor.erl``, with one departure: OTP
reads ``erlang:monotonic_time(second)`` and so compares whole seconds; we use
float seconds (``time.monotonic()``), so the window is exact rather than
rounded to the second.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from itertools import takewhile

__all__ = ["RestartIntensity", "add_restart"]


def add_restart(restarts: tuple[float, ...], now: float, intensity: int,
                period: float) -> tuple[bool, tuple[float, ...]]:
    """Record a restart at ``now`` and say whether it is allowed.

    Timestamps are kept newest first, as in OTP: those with
    ``t >= now - period`` are kept (a restart exactly ``period`` old still
    counts), the rest dropped, and ``now`` is put in front.

    Args:
        restarts: earlier restart times, newest first (as returned last time).
        now: the time of this restart, in seconds.
        intensity: the most restarts allowed within ``period``.
        period: the window, in seconds.

    Returns:
        ``(ok, restarts)``. ``ok`` is True when the count after adding is
        ``<= intensity``: restart the child. False means the limit is reached:
        the supervisor must give up (terminate all children, exit shutdown).
    """
    threshold = now - period
    kept = (now, *takewhile(lambda t: t >= threshold, restarts))
    return len(kept) <= intensity, kept


class RestartIntensity:
    """The restart window of one supervisor, with an injectable clock.

    Same decisions as ``add_restart``, in amortized O(1): the times are kept
    oldest first in a deque, expired ones leave from the left, and only the
    newest ``intensity + 1`` are kept, since whether more than ``intensity``
    fall in the window depends on those alone. (A tuple copied per restart
    makes a burst of restarts quadratic when intensity is large.)

    Attributes:
        intensity: the most restarts allowed within ``period``.
        period: the window, in seconds.
        clock: returns the current time in seconds (``time.monotonic`` by
            default; a fake clock in tests).
    """

    __slots__ = ("_times", "clock", "intensity", "period")

    def __init__(self, intensity: int, period: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.intensity = intensity
        self.period = period
        self.clock = clock
        self._times: deque[float] = deque()

    @property
    def restarts(self) -> tuple[float, ...]:
        """The recorded restart times that still count, newest first (as OTP keeps them)."""
        return tuple(reversed(self._times))

    def add(self) -> bool:
        """Record a restart now; return False when the supervisor must give up."""
        now = self.clock()
        times, threshold = self._times, now - self.period
        while times and times[0] < threshold:
            times.popleft()
        times.append(now)
        while len(times) > self.intensity + 1:
            times.popleft()
        return len(times) <= self.intensity

    def reset(self) -> None:
        """Forget every recorded restart."""
        self._times.clear()

    def __repr__(self) -> str:
        return (f"RestartIntensity(intensity={self.intensity}, period={self.period}, "
                f"restarts={len(self.restarts)})")
