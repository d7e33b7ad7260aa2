"""Messages the runtime delivers to agents, and its internal envelopes.

``Down`` and ``Exit`` arrive through ``on_receive`` like any other message:

    def on_receive(self, message):
        match message:
            case Down(ref=mref, agent=agent, reason=reason): ...
            case Exit(agent=agent, reason=reason): ...        # only with trap_exit
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

__all__ = ["Down", "Exit", "MonitorRef", "next_monitor_ref"]


class MonitorRef(NamedTuple):
    """The reference a ``monitor()`` call returns; its ``Down`` message carries it."""

    id: int
    node: str = ""

    def __str__(self) -> str:
        return f"#MonitorRef<{self.node or 'local'}.{self.id}>"


_monitor_ids = itertools.count(1)


def next_monitor_ref(node: str = "") -> MonitorRef:
    """Return a new, unique monitor reference."""
    return MonitorRef(next(_monitor_ids), node)


class Down(NamedTuple):
    """A monitored agent is gone: OTP's ``('DOWN', ref, process, pid, reason)``."""

    ref: MonitorRef
    agent: Any  # AgentRef
    reason: Any


class Exit(NamedTuple):
    """An exit signal turned into a message because the receiver traps exits."""

    agent: Any  # AgentRef of the sender, or None for exit() from outside any agent
    reason: Any


class Stop(NamedTuple):
    """Internal: a FIFO stop request (``ref.stop()``); queued like any message."""

    reason: Any = "normal"


class Shutdown(NamedTuple):
    """Internal, system lane: finish the current message, run terminate, exit."""

    reason: Any = "shutdown"


WAKE: Any = object()
"""Internal: wakes an agent's loop without carrying a message."""
