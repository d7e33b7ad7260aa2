"""Monitors and Down messages: reference item P3.

Mirrors monitor()/demonitor() in otp/actor/_agent.py. Every test runs once per
execution kind.
"""

from __future__ import annotations

import threading
from typing import Any

from actor_support import echo
from gates import until

import otp.actor
from otp.actor import Down, Inbox, MonitorRef


def test_each_monitor_call_gets_its_own_ref_and_its_own_down(kind: Any) -> None:
    """P3: monitoring twice gives two refs and two Down messages."""
    target = echo(kind).start()
    with Inbox() as inbox:
        first = inbox.monitor(target)
        second = inbox.monitor(target)

        target.stop()

        downs = [inbox.receive(timeout=5), inbox.receive(timeout=5)]
    assert isinstance(first, MonitorRef)
    assert first != second
    assert sorted(downs) == sorted([Down(first, target, "normal"), Down(second, target, "normal")])


def test_an_agent_receives_down_with_the_monitor_ref_and_the_exit_reason(
        kind: Any, recorder_cls: Any) -> None:
    """P3: Down(ref, agent, reason) arrives through on_receive."""
    watcher = recorder_cls.start()
    target = echo(kind).start()
    mref = watcher.proxy().watch(target).get(timeout=5)

    target.kill()
    target.join(timeout=5)

    assert watcher.proxy().messages().get(timeout=5) == [Down(mref, target, "killed")]


def test_a_monitor_is_one_way(kind: Any, recorder_cls: Any) -> None:
    """P3: the watcher's exit does not reach the monitored agent."""
    watcher = recorder_cls.start()
    target = recorder_cls.start(trap_exit=True)
    watcher.proxy().watch(target).get(timeout=5)

    watcher.tell("anything")
    watcher.kill()
    watcher.join(timeout=5)

    assert target.proxy().messages().get(timeout=5) == []
    assert target.is_alive()


def test_monitoring_a_dead_agent_gives_down_noproc_at_once(kind: Any, recorder_cls: Any) -> None:
    """P3: a dead target yields Down noproc immediately."""
    dead = echo(kind).start()
    dead.stop()
    with Inbox() as inbox:
        mref = inbox.monitor(dead)

        assert inbox.pending() == [Down(mref, dead, "noproc")]

    watcher = recorder_cls.start()
    agent_mref = watcher.proxy().watch(dead).get(timeout=5)
    assert watcher.proxy().messages().get(timeout=5) == [Down(agent_mref, dead, "noproc")]


def test_demonitor_before_the_exit_means_no_down(kind: Any, recorder_cls: Any) -> None:
    watcher = recorder_cls.start()
    target = echo(kind).start()
    mref = watcher.proxy().watch(target).get(timeout=5)

    assert watcher.proxy().unwatch(mref).get(timeout=5) is True
    target.stop()

    assert watcher.proxy().messages().get(timeout=5) == []


def test_demonitor_with_flush_drops_a_down_that_is_already_queued(
        kind: Any, new_gate: Any) -> None:
    """P3: demonitor(ref, flush=True) guarantees no Down afterwards, even one already queued."""
    gate = new_gate()
    entered = threading.Event()

    class Watcher(kind.Agent):
        def on_start(self) -> None:
            self.seen: list[Any] = []

        def watch(self, target: Any) -> Any:
            self.mref = self.monitor(target)
            return self.mref

        async def busy_then_demonitor(self) -> bool:
            entered.set()
            await until(gate)  # meanwhile the target dies and its Down is queued here
            return self.demonitor(self.mref, flush=True)

        def on_receive(self, message: Any) -> Any:
            self.seen.append(message)

        def messages(self) -> list[Any]:
            return list(self.seen)

    watcher = Watcher.start()
    target = echo(kind).start()
    watcher.proxy().watch(target).get(timeout=5)
    removed = watcher.proxy().busy_then_demonitor()
    assert entered.wait(5)

    target.stop()  # its Down is now in the watcher's mailbox, behind nothing
    gate.set()

    assert removed.get(timeout=5) is False  # it had already fired
    assert watcher.proxy().messages().get(timeout=5) == []


def test_demonitor_without_flush_leaves_a_queued_down_to_be_delivered(
        kind: Any, new_gate: Any) -> None:
    gate = new_gate()
    entered = threading.Event()

    class Watcher(kind.Agent):
        def on_start(self) -> None:
            self.seen: list[Any] = []

        def watch(self, target: Any) -> Any:
            self.mref = self.monitor(target)
            return self.mref

        async def busy_then_demonitor(self) -> bool:
            entered.set()
            await until(gate)
            return self.demonitor(self.mref)

        def on_receive(self, message: Any) -> Any:
            self.seen.append(message)

        def messages(self) -> list[Any]:
            return list(self.seen)

    watcher = Watcher.start()
    target = echo(kind).start()
    mref = watcher.proxy().watch(target).get(timeout=5)
    removed = watcher.proxy().busy_then_demonitor()
    assert entered.wait(5)
    target.stop()
    gate.set()

    assert removed.get(timeout=5) is False
    assert watcher.proxy().messages().get(timeout=5) == [Down(mref, target, "normal")]


def test_monitoring_by_name_resolves_the_name_when_the_monitor_is_created(kind: Any) -> None:
    """P3: a monitor by name follows the agent that held the name, not the name."""
    first = echo(kind).spawn(name="monitored-name")
    second = echo(kind).start()
    with Inbox() as inbox:
        mref = inbox.monitor("monitored-name")
        otp.actor.unregister("monitored-name")
        otp.actor.register("monitored-name", second)

        second.kill()  # the new holder of the name dies first: not ours
        first.stop()

        assert inbox.receive(timeout=5) == Down(mref, first, "normal")
        assert inbox.pending() == []


def test_monitoring_an_unregistered_name_gives_down_noproc(kind: Any, recorder_cls: Any) -> None:
    """P3: a name nobody holds yields Down noproc at once."""
    with Inbox() as inbox:
        mref = inbox.monitor("nobody-has-this-name")

        assert inbox.pending() == [Down(mref, "nobody-has-this-name", "noproc")]

    watcher = recorder_cls.start()
    agent_mref = watcher.proxy().watch("nobody-has-this-name").get(timeout=5)
    assert watcher.proxy().messages().get(timeout=5) == [
        Down(agent_mref, "nobody-has-this-name", "noproc")]


def test_a_down_carries_every_kind_of_exit_reason(kind: Any) -> None:
    """Exit reasons: normal, shutdown, (shutdown, detail), killed and the exception."""
    boom = ValueError("crash")

    class Ender(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if isinstance(message, BaseException):
                raise message
            self.stop(message)

    with Inbox() as inbox:
        refs = {}
        for reason in ["normal", "shutdown", ("shutdown", "detail"), boom]:
            ref = Ender.start()
            refs[inbox.monitor(ref)] = ref
            ref.tell(reason)
        killed = Ender.start()
        refs[inbox.monitor(killed)] = killed
        killed.kill()

        reasons = {}
        for _ in range(len(refs)):
            down = inbox.receive(timeout=5)
            assert down.agent == refs[down.ref]
            reasons[down.ref] = down.reason
    assert sorted(map(repr, reasons.values())) == sorted(
        map(repr, ["normal", "shutdown", ("shutdown", "detail"), boom, "killed"]))
