"""Module-level functions of the actor runtime: names, sending, exit signals."""

from __future__ import annotations

import time
from typing import Any

from otp.actor import _names, _process
from otp.actor._ref import AgentRef
from otp.errors import KILLED, SHUTDOWN

__all__ = ["exit", "send", "shutdown_all"]


def send(dest: AgentRef[Any] | str, message: Any) -> None:
    """Tell ``dest``, an AgentRef or a registered name.

    Raises:
        NotRegistered: ``dest`` is a name nobody holds (OTP raises badarg).
    """
    target: AgentRef[Any] = _names.whereis_or_raise(dest) if isinstance(dest, str) else dest
    target.tell(message)


def exit(ref: AgentRef[Any], reason: Any) -> None:  # noqa: A001 - OTP's name
    """Send an exit signal to ``ref`` from the current agent (or from outside any agent).

    ``"kill"`` ends it at once with reason ``killed``, even if it traps exits;
    ``"normal"`` is ignored unless it traps exits; anything else ends an agent
    that does not trap exits, with that reason.
    """
    me = _process.current()
    ref._proc.exit_signal(None if me is None else me.ref, reason, from_link=False)


def shutdown_all(timeout: float = 5.0) -> int:
    """Shut down every live local agent; meant for the end of a program or a test.

    Agents with no parent go first, asked newest first, each with reason
    ``shutdown``: a supervisor then stops its own tree in order, restarting
    nothing. Whatever is left goes next. Each group is asked at once and
    waited for under one deadline of ``timeout`` seconds; an agent still
    running then is killed. Returns how many were shut down.
    """
    count = 0
    for roots_only in (True, False):
        group = [proc for proc in reversed(_process.live()) if not proc.dead
                 and not (roots_only and getattr(proc, "parent", None) is not None)]
        for proc in group:
            proc.request_shutdown(SHUTDOWN)
        deadline = time.monotonic() + timeout
        for proc in group:
            if not proc.wait_exit(max(0.0, deadline - time.monotonic())):
                proc.die(KILLED)
        count += len(group)
    return count
