"""Test doubles for things outside a test's control: a clock moved by hand."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock the test moves by hand (seconds): set ``now`` or call ``advance``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
