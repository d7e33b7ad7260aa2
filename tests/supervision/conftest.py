"""Fixtures of the supervisor suite: gates that are always opened.

``new_gate()`` returns a ``threading.Event`` that a hanging child blocks on.
Every gate is opened at teardown, before the root conftest stops all agents,
so a child killed while stuck in ``terminate`` or a handler does not leave
its thread blocked after the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def new_gate() -> Iterator[Callable[[], threading.Event]]:
    """Return a factory of Events; all are set at teardown."""
    gates: list[threading.Event] = []

    def make() -> threading.Event:
        gate = threading.Event()
        gates.append(gate)
        return gate

    yield make
    for gate in gates:
        gate.set()
