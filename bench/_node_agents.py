"""Agents that bench_nodes.py starts on the other node by import path (``_node_agents:Counter``).

The other node imports this module by name: bench_nodes.py puts ``bench/``
on that process's ``PYTHONPATH``.
"""

from __future__ import annotations

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
