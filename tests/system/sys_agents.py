"""Agents that the system-file tests name in their YAML (``sys_agents:Worker``...)."""

from __future__ import annotations

import sys
from typing import Any

from otp import AgentActor


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Worker(AgentActor):
    """Answers ``hello``; says when it terminates (``terminate <label> <reason>`` on stdout)."""

    trap_exit = True

    def __init__(self, label: str = "worker", *extra: Any, global_name: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.extra = extra
        self.global_name = global_name

    def on_start(self) -> None:
        if self.global_name is not None:  # so that a test on another node can find it
            import otp.node

            otp.node.register_global(self.global_name, self.actor_ref)

    def hello(self) -> str:
        return f"hello from {self.label}"

    def crash(self) -> None:
        raise RuntimeError(f"{self.label} crashed on purpose")

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            self.crash()
        return message

    def terminate(self, reason: Any) -> None:
        say(f"terminate {self.label} {reason}")


class Asyncer(AgentActor):
    kind = "async"

    async def hello(self) -> str:
        return "hello from async"


class FailsToStart(AgentActor):
    def on_start(self) -> None:
        raise ValueError("no start today")


NOT_AN_AGENT = 42
