"""Fixtures for the actor runtime tests: a recording agent (gates are in the root conftest).

``recorder_cls`` is a ``kind.Agent`` subclass that records every plain message
(``Exit``, ``Down``, anything told to it) and links, unlinks, monitors and
spawns through its proxy, so a test can drive it from outside and ask what it
received. An ask is answered after everything the same sender sent before it,
and exit signals and DOWNs are queued synchronously by the dying agent, so
``recorder.proxy().messages().get()`` after ``other.join()`` sees them all.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def recorder_cls(kind: Any) -> type[Any]:
    """An agent of the current kind that records its messages; see the module docstring."""

    class Recorder(kind.Agent):  # type: ignore[misc, name-defined]
        def __init__(self, trap_exit: bool = False) -> None:
            super().__init__()
            self.trap_exit = trap_exit
            self.seen: list[Any] = []

        def on_receive(self, message: Any) -> Any:
            self.seen.append(message)

        def messages(self) -> list[Any]:
            return list(self.seen)

        def link_to(self, ref: Any) -> None:
            self.link(ref)

        def unlink_from(self, ref: Any) -> None:
            self.unlink(ref)

        def watch(self, target: Any) -> Any:
            return self.monitor(target)

        def unwatch(self, mref: Any, flush: bool = False) -> bool:
            return self.demonitor(mref, flush=flush)

        def spawn_linked(self, cls: type[Any], *args: Any) -> Any:
            return self.spawn_link(cls, *args)

    return Recorder
