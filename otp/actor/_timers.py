"""Timers: send_after and cancel_timer, served by one daemon thread per node.

A timer whose target has exited by the time it fires is dropped silently
(OTP cancels timers of dead local processes).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Any, NamedTuple

__all__ = ["TimerRef", "cancel_timer", "send_after"]


class TimerRef(NamedTuple):
    """Returned by send_after; pass it to cancel_timer."""

    id: int
    due: float


_cond = threading.Condition()
_heap: list[tuple[float, int, Any, Any]] = []  # (due, id, target ref, message)
_live: set[int] = set()
_ids = itertools.count(1)
_thread: threading.Thread | None = None


def send_after(delay: float, target: Any, message: Any) -> TimerRef:
    """Deliver ``message`` to ``target`` (an AgentRef) after ``delay`` seconds.

    Raises:
        ValueError: ``delay`` is negative or not a number.
    """
    if not isinstance(delay, int | float) or delay < 0 or delay != delay:
        msg = f"send_after delay must be a number of seconds >= 0, not {delay!r}"
        raise ValueError(msg)
    global _thread  # noqa: PLW0603 - the one timer thread of this module
    due = time.monotonic() + delay
    tid = next(_ids)
    with _cond:
        heapq.heappush(_heap, (due, tid, target, message))
        _live.add(tid)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="otp-timers", daemon=True)
            _thread.start()
        _cond.notify()
    return TimerRef(tid, due)


def cancel_timer(tref: TimerRef) -> float | None:
    """Cancel a timer; return the seconds it had left, or None if it fired or was cancelled."""
    with _cond:
        if tref.id not in _live:
            return None
        _live.discard(tref.id)
    return max(0.0, tref.due - time.monotonic())


def _run() -> None:
    while True:
        with _cond:
            while True:
                now = time.monotonic()
                while _heap and _heap[0][1] not in _live:
                    heapq.heappop(_heap)  # cancelled
                if _heap and _heap[0][0] <= now:
                    _due, tid, target, message = heapq.heappop(_heap)
                    _live.discard(tid)
                    break
                _cond.wait(None if not _heap else _heap[0][0] - now)
        if target.is_alive():
            target.tell(message)
