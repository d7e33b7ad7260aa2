# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""Links, trap_exit, monitors and Down, in four short scenes.

1. A link is two-way: when one agent crashes, a linked agent that does not
   trap exits dies with the same reason.
2. An agent that traps exits gets the crash as an ``Exit`` message instead,
   and lives on.
3. A monitor is one-way: the watcher gets a ``Down`` message and is not
   affected. The dead agent's name is already free when Down arrives.
4. ``kill`` cannot be trapped.

Run it from the repository root: ``python examples/links_and_monitors.py``.
"""

from __future__ import annotations

import sys
from typing import Any

import otp
from otp import AgentActor, AgentRef, Down, Exit, Inbox
from otp.errors import format_reason


def say(line: str = "") -> None:
    """Print one whole line at once (agents print from their own threads)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Worker(AgentActor):
    """Does work; ``fail`` crashes it with the exception of your choice."""

    def fail(self, why: str) -> None:
        raise RuntimeError(why)


class Partner(AgentActor):
    """Links itself to another agent in on_start (and does not trap exits)."""

    def __init__(self, other: AgentRef[Any]) -> None:
        super().__init__()
        self.other = other

    def on_start(self) -> None:
        self.link(self.other)


class Manager(AgentActor):
    """Traps exits: a linked agent's exit arrives as an Exit message."""

    trap_exit = True

    def on_start(self) -> None:
        self.events: list[str] = []
        self.worker = self.spawn_link(Worker)

    def on_receive(self, message: Any) -> Any:
        match message:
            case Exit(agent=agent, reason=reason):
                self.events.append(f"Exit from {agent.class_name}: {format_reason(reason)}")
        return None

    def worker_ref(self) -> AgentRef[Any]:
        return self.worker

    def seen(self) -> list[str]:
        return self.events


def down_from(inbox: Inbox) -> Down:
    down: Down = inbox.receive(timeout=5, match=lambda m: isinstance(m, Down))
    return down


def main() -> int:
    otp.configure_logging(level="critical")  # keep the crash reports off the screen

    with Inbox() as inbox:
        say("1. Links are two-way")
        worker = Worker.start()
        partner = Partner.start(worker)
        inbox.monitor(partner)
        try:
            worker.proxy().fail("out of tokens").get()
        except RuntimeError as exc:
            say(f"   the ask raised {exc!r}")
        down = down_from(inbox)
        say(f"   the partner died too: Down reason {format_reason(down.reason)}")

        say()
        say("2. trap_exit turns the exit signal into a message")
        manager = Manager.start()
        child = manager.proxy().worker_ref().get()
        try:
            child.proxy().fail("bad tool call").get()
        except RuntimeError:
            pass
        child.join(timeout=5)
        say(f"   manager alive: {manager.is_alive()}; it received: {manager.proxy().seen().get()}")
        manager.stop()

        say()
        say("3. Monitors are one-way, and the name is free before Down arrives")
        named = Worker.spawn(name="scout")
        mref = inbox.monitor("scout")
        say(f"   whereis('scout') -> {otp.whereis('scout')}")
        named.kill()
        down = down_from(inbox)
        say(f"   Down(ref={down.ref}, reason={down.reason!r}); whereis('scout') -> "
            f"{otp.whereis('scout')}; the inbox lives on")
        assert down.ref == mref

        say()
        say("4. kill cannot be trapped")
        manager = Manager.start()
        inbox.monitor(manager)
        otp.exit(manager, "kill")
        down = down_from(inbox)
        say(f"   the manager traps exits, yet: Down reason {down.reason!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
