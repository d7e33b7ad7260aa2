"""Agents that bench_nodes.py and bench_pools.py start on the other node by import path
(``_node_agents:Counter``).

The other node imports this module by name: the benches put ``bench/``
on that process's ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from otp import AgentActor

COUNT = "count?"


class Counter(AgentActor):
    """Counts plain messages; answers COUNT with the count, anything else with itself."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_receive(self, message: Any) -> Any:
        if message == COUNT:
            return self.n
        self.n += 1
        return message


class AsyncCounter(Counter):
    """The same agent, on the node loop (``kind = "async"``)."""

    kind = "async"


SLEEP = "sleep"


class Worker(AgentActor):
    """A pool member (bench_pools.py): ``("sleep", seconds, x)`` is answered with ``x`` after
    ``time.sleep(seconds)`` (a fixed service time, the GIL released); anything else at once
    with itself."""

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, (tuple, list)) and len(message) == 3 and message[0] == SLEEP:
            time.sleep(message[1])
            return message[2]
        return message


class AsyncWorker(AgentActor):
    """The same member on the node loop (``kind = "async"``): the service time is
    ``await asyncio.sleep(seconds)``; anything else is answered at once, without a task."""

    kind = "async"

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, (tuple, list)) and len(message) == 3 and message[0] == SLEEP:
            return self._serve(message[1], message[2])  # a coroutine: awaited in a task
        return message

    async def _serve(self, seconds: float, value: Any) -> Any:
        await asyncio.sleep(seconds)
        return value
