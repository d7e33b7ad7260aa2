"""Shared fixtures: the execution-kind parameter, a fake clock, gates, and clean-up.

Behaviour tests take the ``kind`` fixture and subclass ``kind.Agent``, so the
same test runs over every execution kind (as pykka's suite does with its
``runtime`` fixture): ``thread`` and ``async``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import FakeClock
from kinds import KINDS, Kind

import otp.actor


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Kind:
    """Each execution kind in turn; supervisors started by the test run on it too."""
    from otp import Supervisor

    monkeypatch.setattr(Supervisor, "kind", request.param)
    return KINDS[request.param]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock for restart-intensity windows and backoff."""
    return FakeClock(1000.0)


@pytest.fixture
def new_gate() -> Iterator[Callable[[], threading.Event]]:
    """Return a factory of Events an agent can block on; all are set at teardown,
    before the agents are stopped, so no test leaves a thread stuck in a handler."""
    gates: list[threading.Event] = []

    def make() -> threading.Event:
        gate = threading.Event()
        gates.append(gate)
        return gate

    yield make
    for gate in gates:
        gate.set()


@pytest.fixture(autouse=True)
def _stop_all_agents() -> Any:
    """Stop every agent a test left running, newest first."""
    yield
    otp.actor.shutdown_all(timeout=2.0)
