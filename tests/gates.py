"""Waiting on a test's gate from inside a handler, on any execution kind.

A thread agent may block on a ``threading.Event``; an async agent must not,
since that would hold the node loop. ``await until(gate)`` in an
``async def`` handler waits without blocking either (a thread agent runs the
coroutine on its own small loop).
"""

from __future__ import annotations

import asyncio
import threading
import time


async def until(gate: threading.Event, timeout: float = 5.0) -> bool:
    """Wait, by polling every 2 ms, until ``gate`` is set or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not gate.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    return gate.is_set()
