"""Timers: send_after and cancel_timer.

Mirrors otp/actor/_timers.py. Every test runs once per execution kind. Only
lower bounds on delays are asserted: a loaded machine may deliver late.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import otp.actor
from otp.actor import Inbox, TimerRef


def _timed(kind: Any) -> Any:
    """An agent that sets timers on itself and records when each message arrived."""

    class Timed(kind.Agent):
        def on_start(self) -> None:
            self.arrivals: list[tuple[Any, float]] = []

        def after(self, delay: float, message: Any) -> Any:
            return self.send_after(delay, message)

        def cancel(self, tref: Any) -> Any:
            return self.cancel_timer(tref)

        def on_receive(self, message: Any) -> Any:
            self.arrivals.append((message, time.monotonic()))

        def received(self) -> list[Any]:
            return [m for m, _t in self.arrivals]

        def arrival(self, message: Any) -> float | None:
            return next((t for m, t in self.arrivals if m == message), None)

    return Timed


def _wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    """Bounded polling: True as soon as predicate() holds, False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_send_after_delivers_the_message_after_the_delay(kind: Any) -> None:
    ref = _timed(kind).start()
    started = time.monotonic()

    tref = ref.proxy().after(0.05, "tick").get(timeout=5)

    assert isinstance(tref, TimerRef)
    assert _wait_until(lambda: ref.proxy().received().get(timeout=5) == ["tick"])
    assert ref.proxy().arrival("tick").get(timeout=5) - started >= 0.05


def test_send_after_to_an_inbox_delivers_after_the_delay(kind: Any) -> None:
    with Inbox() as inbox:
        started = time.monotonic()
        otp.actor.send_after(0.05, inbox.ref, "tick")

        assert inbox.receive(timeout=5) == "tick"
        assert time.monotonic() - started >= 0.05


def test_timers_fire_in_the_order_they_are_due(kind: Any) -> None:
    with Inbox() as inbox:
        otp.actor.send_after(0.15, inbox.ref, "third")
        otp.actor.send_after(0.05, inbox.ref, "first")
        otp.actor.send_after(0.10, inbox.ref, "second")

        assert [inbox.receive(timeout=5) for _ in range(3)] == ["first", "second", "third"]


def test_cancel_timer_returns_the_time_left_and_prevents_delivery(kind: Any) -> None:
    ref = _timed(kind).start()
    proxy = ref.proxy()
    tref = proxy.after(0.3, "cancelled").get(timeout=5)

    left = proxy.cancel(tref).get(timeout=5)
    proxy.after(0.35, "marker").get(timeout=5)  # due after the cancelled one would have been

    assert left is not None
    assert 0 < left <= 0.3
    assert _wait_until(lambda: proxy.received().get(timeout=5) == ["marker"])


def test_cancel_timer_after_it_fired_returns_none(kind: Any) -> None:
    with Inbox() as inbox:
        tref = otp.actor.send_after(0.01, inbox.ref, "tick")
        assert inbox.receive(timeout=5) == "tick"

        assert otp.actor.cancel_timer(tref) is None


def test_cancelling_a_timer_twice_returns_none_the_second_time(kind: Any) -> None:
    with Inbox() as inbox:
        tref = otp.actor.send_after(5, inbox.ref, "never")

        assert otp.actor.cancel_timer(tref) is not None
        assert otp.actor.cancel_timer(tref) is None


def test_a_negative_delay_raises_value_error_naming_the_value(kind: Any) -> None:
    ref = _timed(kind).start()

    with pytest.raises(ValueError, match="-1.5"):
        otp.actor.send_after(-1.5, ref, "never")
    with pytest.raises(ValueError, match="-2"):
        ref.proxy().after(-2, "never").get(timeout=5)


def test_a_timer_to_an_agent_that_has_exited_is_dropped(kind: Any) -> None:
    ref = _timed(kind).start()
    ref.stop()
    with Inbox() as inbox:
        otp.actor.send_after(0.01, ref, "too late")
        otp.actor.send_after(0.03, inbox.ref, "still served")  # due after the dropped one

        assert inbox.receive(timeout=5) == "still served"
    assert not ref.is_alive()
    assert ref.exit_reason == "normal"
