"""Restart intensity: OTP's add_restart sliding window, with a fake clock."""

from __future__ import annotations

from fakes import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from otp.supervision._intensity import RestartIntensity, add_restart


def test_intensity_zero_means_the_first_restart_fails() -> None:
    ok, restarts = add_restart((), now=0.0, intensity=0, period=5.0)
    assert ok is False
    assert restarts == (0.0,)


def test_with_two_in_an_hour_the_third_restart_fails() -> None:
    intensity = RestartIntensity(2, 3600, clock=FakeClock(10.0))
    assert [intensity.add(), intensity.add(), intensity.add()] == [True, True, False]


def test_restarts_are_kept_newest_first_as_in_otp() -> None:
    restarts: tuple[float, ...] = ()
    for now in (1.0, 2.0, 3.0):
        _, restarts = add_restart(restarts, now, intensity=5, period=10.0)
    assert restarts == (3.0, 2.0, 1.0)


def test_restarts_older_than_the_period_are_dropped() -> None:
    ok, restarts = add_restart((4.0, 1.0), now=10.0, intensity=1, period=7.0)
    assert (ok, restarts) == (False, (10.0, 4.0))
    ok, restarts = add_restart((4.0, 1.0), now=20.0, intensity=1, period=7.0)
    assert (ok, restarts) == (True, (20.0,))


def test_a_restart_exactly_period_old_is_still_counted() -> None:
    assert add_restart((0.0,), now=5.0, intensity=1, period=5.0) == (False, (5.0, 0.0))


def test_a_restart_just_over_period_old_is_forgotten() -> None:
    assert add_restart((0.0,), now=5.001, intensity=1, period=5.0) == (True, (5.001,))


def test_multiple_restarts_2_1_seconds_apart_never_trip_intensity_1_in_1_second() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(1, 1, clock=clock)
    for _ in range(10):
        assert intensity.add() is True
        clock.now += 2.1


def test_two_restarts_within_the_period_trip_intensity_one() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(1, 1, clock=clock)
    assert intensity.add() is True
    clock.now += 0.9
    assert intensity.add() is False


def test_reset_forgets_every_restart() -> None:
    intensity = RestartIntensity(1, 60, clock=FakeClock())
    assert intensity.add() is True
    intensity.reset()
    assert intensity.restarts == ()
    assert intensity.add() is True


def test_the_default_clock_is_monotonic_time() -> None:
    intensity = RestartIntensity(3, 5.0)
    assert intensity.add() is True
    assert len(intensity.restarts) == 1


def reference_allows(history: list[float], now: float, intensity: int, period: float) -> bool:
    """An independent model: keep every timestamp, count those inside the window."""
    return sum(1 for t in history if now - period <= t <= now) <= intensity


gaps = st.one_of(st.integers(0, 4).map(float),
                 st.floats(0.0, 4.0, allow_nan=False, allow_infinity=False))


@given(intensity=st.integers(0, 5),
       period=st.one_of(st.integers(1, 5).map(float), st.floats(0.01, 5.0)),
       steps=st.lists(gaps, max_size=40))
def test_restart_intensity_agrees_with_a_reference_model(
        intensity: int, period: float, steps: list[float]) -> None:
    clock = FakeClock()
    window = RestartIntensity(intensity, period, clock=clock)
    history: list[float] = []
    for gap in steps:
        clock.now += gap
        history.append(clock.now)
        assert window.add() is reference_allows(history, clock.now, intensity, period)
