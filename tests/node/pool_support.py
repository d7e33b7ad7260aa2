"""Helpers shared by the pool tests (local: tests/pool/, remote: tests/node/test_pool_remote.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from otp import AgentRef
from otp.pool import FanOutResult, Pool

WAIT = 5.0


def plan(*pairs: tuple[AgentRef[Any], tuple[Any, ...]]) -> tuple[str, dict[str, Any]]:
    """The ``("vote", plan)`` message giving each listed member its own action."""
    return ("vote", {m.id: spec for m, spec in pairs})


def timed_ask(pool: Pool, message: Any, **kwargs: Any) -> tuple[FanOutResult, float]:
    """``pool.ask`` and how long it took, in seconds."""
    start = time.monotonic()
    result = pool.ask(message, **kwargs)
    return result, time.monotonic() - start


def eventually(check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Call ``check`` every 20 ms until it returns something truthy or ``timeout`` passes;
    return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
