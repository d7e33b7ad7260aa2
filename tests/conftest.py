"""Shared fixtures: the execution-kind parameter, a fake clock, and clean-up.

Behaviour tests take the ``kind`` fixture and subclass ``kind.Agent``, so the
same test runs over every execution kind (as pykka's suite does with its
``runtime`` fixture). Only the thread kind exists so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import otp.actor
from otp.actor import AgentActor


@dataclass(frozen=True)
class Kind:
    """One execution kind as the tests see it."""

    name: str
    Agent: type[Any]


KINDS = {"thread": Kind("thread", AgentActor)}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    """Each execution kind in turn."""
    return KINDS[request.param]


class FakeClock:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock for restart-intensity windows and backoff."""
    return FakeClock()


@pytest.fixture(autouse=True)
def _stop_all_agents() -> Any:
    """Stop every agent a test left running, newest first."""
    yield
    otp.actor.shutdown_all(timeout=2.0)
