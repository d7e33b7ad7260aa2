"""Restart backoff: Akka's formula, the cap, jitter, reset after quiet time, max_restarts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fakes import FakeClock

from otp.errors import SpecError
from otp.specs import Backoff
from otp.supervision._backoff import BackoffState, backoff_delay


def no_jitter() -> float:
    return 0.0


@pytest.mark.parametrize(("n", "delay"), [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0)])
def test_the_delay_doubles_from_min_with_each_restart(n: int, delay: float) -> None:
    assert backoff_delay(n, 1.0, 30.0, 0.2, rand=0.0) == delay


def test_the_delay_is_capped_at_max() -> None:
    assert backoff_delay(5, 1.0, 30.0, 0.2, rand=0.0) == 30.0
    assert backoff_delay(12, 0.5, 10.0, 0.0, rand=0.9) == 10.0


def test_jitter_adds_up_to_random_factor_of_the_delay() -> None:
    assert backoff_delay(0, 1.0, 30.0, 0.2, rand=0.5) == pytest.approx(1.1)
    assert backoff_delay(2, 1.0, 30.0, 0.5, rand=0.5) == pytest.approx(5.0)


def test_jitter_is_applied_after_the_cap_so_the_delay_may_exceed_max() -> None:
    assert backoff_delay(10, 1.0, 30.0, 0.2, rand=0.99) == pytest.approx(30.0 * 1.198)


@pytest.mark.parametrize("n", [30, 31, 1000, 10**6])
def test_from_thirty_restarts_on_the_delay_is_exactly_max(n: int) -> None:
    assert backoff_delay(n, 1.0, 30.0, 0.2, rand=0.99) == 30.0


def test_the_delay_just_before_thirty_is_still_finite_and_jittered() -> None:
    delay = backoff_delay(29, 1e-9, 1e9, 0.2, rand=0.5)
    assert math.isfinite(delay) and delay == pytest.approx(1e-9 * 2**29 * 1.1)


def test_backoff_state_gives_growing_delays() -> None:
    state = BackoffState(Backoff(min=1, max=8), clock=FakeClock(), rng=no_jitter)
    assert [state.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert state.restart_count == 6


def test_backoff_state_uses_the_injected_rng() -> None:
    state = BackoffState(Backoff(min=1, max=8, random_factor=0.5), clock=FakeClock(),
                         rng=lambda: 0.5)
    assert state.next_delay() == pytest.approx(1.25)


def test_the_count_resets_after_reset_after_seconds_without_a_failure() -> None:
    clock = FakeClock()
    state = BackoffState(Backoff(min=1, max=30, reset_after=10), clock=clock, rng=no_jitter)
    assert [state.next_delay(), state.next_delay()] == [1.0, 2.0]  # due at t=2
    clock.now = 2 + 10
    assert state.next_delay() == 1.0
    assert state.restart_count == 1


def test_the_count_keeps_growing_while_failures_come_sooner_than_reset_after() -> None:
    clock = FakeClock()
    state = BackoffState(Backoff(min=1, max=30, reset_after=10), clock=clock, rng=no_jitter)
    delays = []
    for _ in range(4):
        delay = state.next_delay()
        assert delay is not None
        delays.append(delay)
        clock.now += delay + 9.9  # restarted, then failed again just before reset_after
    assert delays == [1.0, 2.0, 4.0, 8.0]


def test_a_long_delay_does_not_by_itself_reset_the_count() -> None:
    clock = FakeClock()
    state = BackoffState(Backoff(min=20, max=40, reset_after=5), clock=clock, rng=no_jitter)
    assert state.next_delay() == 20.0
    clock.now += 20.0 + 1.0  # the restart happened at t=20 and failed 1 s later
    assert state.next_delay() == 40.0


def test_the_default_reset_after_is_halfway_between_min_and_max() -> None:
    clock = FakeClock()
    state = BackoffState(Backoff(min=1, max=9), clock=clock, rng=no_jitter)
    assert state.next_delay() == 1.0
    clock.now = 1.0 + 4.5  # 4.5 s after the restart was due: not yet quiet enough
    assert state.next_delay() == 2.0
    clock.now = 7.5 + 5.0  # 5 s after the restart due at 7.5
    assert state.next_delay() == 1.0


def test_max_restarts_exhausted_gives_none() -> None:
    state = BackoffState(Backoff(min=1, max=8, max_restarts=2), clock=FakeClock(), rng=no_jitter)
    assert [state.next_delay(), state.next_delay()] == [1.0, 2.0]
    assert state.next_delay() is None
    assert state.next_delay() is None


def test_max_restarts_zero_never_restarts() -> None:
    state = BackoffState(Backoff(min=1, max=8, max_restarts=0), clock=FakeClock())
    assert state.next_delay() is None


def test_quiet_time_gives_back_the_restarts_after_exhaustion() -> None:
    clock = FakeClock()
    state = BackoffState(Backoff(min=1, max=8, max_restarts=1, reset_after=3), clock=clock,
                         rng=no_jitter)
    assert state.next_delay() == 1.0
    assert state.next_delay() is None
    clock.now = 1.0 + 3.0
    assert state.next_delay() == 1.0


def test_reset_starts_again_from_min() -> None:
    state = BackoffState(Backoff(min=1, max=8, max_restarts=2), clock=FakeClock(), rng=no_jitter)
    state.next_delay()
    state.next_delay()
    state.reset()
    assert state.restart_count == 0
    assert state.next_delay() == 1.0


def test_the_default_clock_and_rng_give_a_jittered_min_first() -> None:
    delay = BackoffState(Backoff(min=1, max=8)).next_delay()
    assert delay is not None and 1.0 <= delay < 1.2


def test_a_backoff_resolves_its_defaults() -> None:
    backoff = Backoff(min=1, max=30)
    assert (backoff.min, backoff.max) == (1.0, 30.0)
    assert backoff.random_factor == 0.2
    assert backoff.reset_after == 15.5
    assert backoff.max_restarts is None


def test_a_backoff_may_have_equal_min_and_max_and_no_jitter() -> None:
    backoff = Backoff(min=2, max=2, random_factor=0, reset_after=1, max_restarts=0)
    assert (backoff.max, backoff.random_factor, backoff.reset_after) == (2.0, 0.0, 1.0)


@pytest.mark.parametrize(("given", "field"), [
    ({"max": 1}, "min"),
    ({"min": 1}, "max"),
    ({"min": 0, "max": 1}, "min"),
    ({"min": -1, "max": 1}, "min"),
    ({"min": math.inf, "max": math.inf}, "min"),
    ({"min": math.nan, "max": 1}, "min"),
    ({"min": True, "max": 2}, "min"),
    ({"min": "1", "max": 2}, "min"),
    ({"min": 2, "max": 1}, "max"),
    ({"min": 1, "max": math.inf}, "max"),
    ({"min": 1, "max": 2, "random_factor": -0.1}, "random_factor"),
    ({"min": 1, "max": 2, "random_factor": math.nan}, "random_factor"),
    ({"min": 1, "max": 2, "reset_after": 0}, "reset_after"),
    ({"min": 1, "max": 2, "reset_after": -1}, "reset_after"),
    ({"min": 1, "max": 2, "max_restarts": -1}, "max_restarts"),
    ({"min": 1, "max": 2, "max_restarts": 1.5}, "max_restarts"),
    ({"min": 1, "max": 2, "max_restarts": True}, "max_restarts"),
])
def test_invalid_backoff_values_raise_invalid_backoff(given: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as info:
        Backoff(**given)
    assert type(info.value) is SpecError
    assert (info.value.code, info.value.field) == ("invalid_backoff", field)
    assert str(info.value).startswith("invalid_backoff: backoff: ")
    assert field in str(info.value)


def test_a_misspelt_backoff_key_is_an_unknown_key() -> None:
    with pytest.raises(SpecError) as info:
        Backoff(min=1, max=2, max_restart=3)
    assert info.value.code == "unknown_key"
    assert "did you mean 'max_restarts'?" in str(info.value)
