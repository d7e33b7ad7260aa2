"""Module-level functions of the actor runtime: names, sending, exit signals."""

from __future__ import annotations

from typing import Any

from otp.actor import _names, _process
from otp.actor._ref import AgentRef
from otp.errors import NORMAL

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
    """Stop every live local agent, newest first, killing any that does not stop in time.

    Meant for the end of a program or a test. Returns how many were stopped.
    """
    procs = list(reversed(_process.live()))
    for proc in procs:
        if proc.dead:
            continue
        proc.request_shutdown(NORMAL) if hasattr(proc, "actor") else proc.die(NORMAL)
        if not proc.exited.wait(timeout):
            proc.die("killed")
    return len(procs)
