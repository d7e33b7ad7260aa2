"""Agents that node tests start on other nodes by import path (``remote_agents:Echo``).

An otp-node cannot run test code, so what a test needs to happen *on* that
node is done by one of these agents, on the test's request: ``Echo``
answers, forwards and sleeps; ``Relay`` links, monitors and reports the
``Exit`` and ``Down`` messages it gets; ``Names`` uses the global name table
from that node's side.
"""

from __future__ import annotations

import time
from typing import Any

import otp.node
from otp import AgentActor, AgentRef, Down, Exit
from otp.errors import NameTaken


class Echo(AgentActor):
    """Answers ("echo", message); crashes on "crash"; ``add`` and ``count`` for proxy calls.

    ``("tell", ref, x)`` tells ``x`` to ``ref`` (a ref that crossed the wire);
    ``("sleep", s)`` holds the agent ``s`` seconds, then answers ``("slept", s)``.
    """

    def on_start(self) -> None:
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        self.count += 1
        if message == "crash":
            raise RuntimeError("asked to crash")
        if isinstance(message, tuple) and len(message) == 3 and message[0] == "tell":
            message[1].tell(message[2])
            return None
        if isinstance(message, tuple) and len(message) == 2 and message[0] == "sleep":
            time.sleep(message[1])
            return ("slept", message[1])
        return ("echo", message)

    def add(self, a: int, b: int) -> int:
        return a + b

    def fail(self, text: str) -> None:
        raise KeyError(text)

    def busy(self, seconds: float) -> float:
        """Hold the CPU (and the GIL, in slices) for ``seconds``."""
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            n += 1
        return seconds


class Relay(AgentActor):
    """Links to and monitors other agents on request; reports what it gets to ``report``.

    ``("link", ref)``, ``("unlink", ref)``, ``("monitor", ref)`` (answers the
    MonitorRef), ``("demonitor", mref)``; every ``Exit`` and ``Down`` it
    receives is told to ``report`` as ``("relay", message)``. With
    ``trap=False`` an exit signal from a link ends it, as in OTP.
    """

    def __init__(self, report: AgentRef[Any], trap: bool = True) -> None:
        super().__init__()
        self.report = report
        self.trap_exit = trap

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, (Exit, Down)):
            self.report.tell(("relay", type(message).__name__, *message))
            return None
        what, arg = message
        if what == "link":
            self.link(arg)
            return "linked"
        if what == "unlink":
            self.unlink(arg)
            return "unlinked"
        if what == "monitor":
            return self.monitor(arg)
        if what == "demonitor":
            return self.demonitor(arg)
        if what == "crash":
            raise ValueError(arg)
        msg = f"Relay: unknown request {message!r}"
        raise ValueError(msg)


class Names(AgentActor):
    """The global name table as seen from this agent's node."""

    def whereis(self, name: str) -> AgentRef[Any] | None:
        return otp.node.whereis_global(name)

    def register(self, name: str) -> str:
        """Register this agent as ``name``; answer "ok" or the NameTaken message."""
        try:
            otp.node.register_global(name, self.actor_ref)
        except NameTaken as exc:
            return f"taken: {exc}"
        return "ok"

    def nodes(self) -> list[str]:
        return otp.node.nodes()


class FailsToStart(AgentActor):
    def on_start(self) -> None:
        raise ValueError("no start today")
