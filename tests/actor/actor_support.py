"""Small test agents shared by the actor tests, built per execution kind."""

from __future__ import annotations

from typing import Any

__all__ = ["collector", "echo"]


def echo(kind: Any) -> Any:
    """An agent of ``kind`` that answers every message with the message itself."""

    class Echo(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            return message

    return Echo


def collector(kind: Any) -> Any:
    """An agent of ``kind`` that keeps what it is told and returns it all on "report"."""

    class Collector(kind.Agent):
        def __init__(self) -> None:
            super().__init__()
            self.got: list[Any] = []

        def on_receive(self, message: Any) -> Any:
            if message == "report":
                return list(self.got)
            self.got.append(message)
            return None

    return Collector
