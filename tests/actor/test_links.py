"""Links, trap_exit and exit signals: reference items P1 and P2.

Mirrors the link and exit-signal parts of otp/actor/_agent.py and _process.py.
Every test runs once per execution kind.
"""

from __future__ import annotations

from typing import Any

import pytest
from gates import until

import otp.actor
from otp.actor import Exit, Inbox
from otp.errors import AgentExit, NoProc, StartError


def _crasher(kind: Any) -> Any:
    """An agent that raises any exception it is told, stops with ("stop", r), echoes the rest."""

    class Crasher(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if isinstance(message, BaseException):
                raise message
            if isinstance(message, tuple) and message[0] == "stop":
                self.stop(message[1])
            return message

    return Crasher


# -- P1 links ------------------------------------------------------------------------


def test_a_link_carries_the_exit_of_the_agent_that_made_it(kind: Any, recorder_cls: Any) -> None:
    """P1: links are two-way (the linking side's exit reaches the other side)."""
    linker = recorder_cls.start()
    other = recorder_cls.start(trap_exit=True)
    linker.proxy().link_to(other).get(timeout=5)

    linker.kill()

    assert other.proxy().messages().get(timeout=5) == [Exit(linker, "killed")]


def test_a_link_carries_the_exit_of_the_agent_linked_to(kind: Any, recorder_cls: Any) -> None:
    """P1: links are two-way (the linked side's exit reaches the linking side)."""
    linker = recorder_cls.start(trap_exit=True)
    other = recorder_cls.start()
    linker.proxy().link_to(other).get(timeout=5)

    other.kill()

    assert linker.proxy().messages().get(timeout=5) == [Exit(other, "killed")]


def test_linking_twice_makes_one_link_that_one_unlink_removes(kind: Any,
                                                                recorder_cls: Any) -> None:
    """P1: one link per pair; linking is idempotent."""
    watcher = recorder_cls.start(trap_exit=True)
    target = _crasher(kind).start()
    proxy = watcher.proxy()
    proxy.link_to(target).get(timeout=5)
    proxy.link_to(target).get(timeout=5)

    proxy.unlink_from(target).get(timeout=5)
    target.tell(ValueError("crash"))
    target.join(timeout=5)

    assert proxy.messages().get(timeout=5) == []
    assert watcher.is_alive()


def test_an_agent_exiting_sends_its_reason_to_every_link(kind: Any, recorder_cls: Any) -> None:
    """P1: a process exits by sending its reason to every link."""
    boom = ValueError("crash")
    target = _crasher(kind).start()
    watchers = [recorder_cls.start(trap_exit=True) for _ in range(3)]
    for watcher in watchers:
        watcher.proxy().link_to(target).get(timeout=5)

    target.tell(boom)
    target.join(timeout=5)

    for watcher in watchers:
        assert watcher.proxy().messages().get(timeout=5) == [Exit(target, boom)]


def test_a_crash_travels_along_a_chain_of_links(kind: Any, recorder_cls: Any) -> None:
    boom = ValueError("crash")
    first = recorder_cls.start()
    middle = recorder_cls.start()
    last = _crasher(kind).start()
    first.proxy().link_to(middle).get(timeout=5)
    middle.proxy().link_to(last).get(timeout=5)

    last.tell(boom)

    assert middle.join(timeout=5) is boom
    assert first.join(timeout=5) is boom


def test_spawn_link_makes_the_link_before_on_start_runs(kind: Any, recorder_cls: Any) -> None:
    """P1: spawn_link is atomic: a parent that dies during the child's on_start takes it along."""
    parent = recorder_cls.start()
    children: list[Any] = []

    class Child(kind.Agent):
        def on_start(self) -> None:
            children.append(self.actor_ref)
            otp.actor.exit(parent, "kill")  # the parent dies while we are starting

    with pytest.raises(AgentExit):
        parent.proxy().spawn_linked(Child).get(timeout=5)

    assert parent.join(timeout=5) == "killed"
    assert children[0].join(timeout=5) == "killed"


def test_spawn_link_links_both_ways(kind: Any, recorder_cls: Any) -> None:
    parent = recorder_cls.start(trap_exit=True)
    child = parent.proxy().spawn_linked(_crasher(kind)).get(timeout=5)
    boom = ValueError("child crash")

    child.tell(boom)
    child.join(timeout=5)

    assert parent.proxy().messages().get(timeout=5) == [Exit(child, boom)]


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_a_trapping_agent_whose_spawn_link_parent_exits_terminates_with_the_parent_reason(
        kind: Any, recorder_cls: Any, how: str) -> None:
    """P6: a gen_server trapping exits ends with its parent's reason, after terminate."""
    terminated: list[Any] = []

    class Child(kind.Agent):
        trap_exit = True

        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    parent = recorder_cls.start()
    child = parent.proxy().spawn_linked(Child).get(timeout=5)

    parent.kill() if how == "kill" else parent.stop()

    expected = "killed" if how == "kill" else "normal"
    assert child.join(timeout=5) == expected
    assert terminated == [expected]


def test_a_trapping_agent_receives_the_exit_of_a_linked_agent_that_is_not_its_parent(
        kind: Any, recorder_cls: Any) -> None:
    parent = recorder_cls.start()
    child = parent.proxy().spawn_linked(recorder_cls, True).get(timeout=5)
    peer = _crasher(kind).start()
    child.proxy().link_to(peer).get(timeout=5)

    peer.stop()

    assert child.proxy().messages().get(timeout=5) == [Exit(peer, "normal")]
    assert child.is_alive()


def test_spawn_link_whose_on_start_fails_raises_start_error_and_leaves_the_caller_alive(
        kind: Any, recorder_cls: Any) -> None:
    """P1/DESIGN: a failing on_start is a start error for the caller, not an exit signal."""
    boom = RuntimeError("cannot start")

    class Failing(kind.Agent):
        def on_start(self) -> None:
            raise boom

    class Parent(recorder_cls):  # type: ignore[misc, valid-type]
        def try_spawn(self) -> Any:
            try:
                self.spawn_link(Failing)
            except StartError as exc:
                return exc
            return None

    parent = Parent.start()

    error = parent.proxy().try_spawn().get(timeout=5)

    assert isinstance(error, StartError)
    assert error.reason is boom
    assert parent.is_alive()


def test_spawn_link_whose_on_start_fails_sends_no_exit_to_a_trapping_caller(
        kind: Any, recorder_cls: Any) -> None:
    class Failing(kind.Agent):
        def on_start(self) -> None:
            raise RuntimeError("cannot start")

    class Parent(recorder_cls):  # type: ignore[misc, valid-type]
        def try_spawn(self) -> Any:
            try:
                self.spawn_link(Failing)
            except StartError as exc:
                return exc
            return None

    parent = Parent.start(trap_exit=True)

    assert isinstance(parent.proxy().try_spawn().get(timeout=5), StartError)
    assert parent.proxy().messages().get(timeout=5) == []


def test_spawn_link_whose_on_start_times_out_leaves_the_caller_alive(
        kind: Any, recorder_cls: Any, new_gate: Any) -> None:
    gate = new_gate()

    class Stuck(kind.Agent):
        start_timeout = 0.05

        async def on_start(self) -> None:
            await until(gate)

    parent = recorder_cls.start()

    with pytest.raises(StartError) as info:
        Stuck.spawn(link=parent)
    assert info.value.reason == "timeout"
    assert parent.is_alive()
    assert parent.proxy().messages().get(timeout=5) == []


def test_linking_to_a_dead_agent_when_trapping_gives_an_exit_noproc_message(
        kind: Any, recorder_cls: Any) -> None:
    """P1: a link to a process that does not exist gives noproc."""
    dead = _crasher(kind).start()
    dead.stop()
    watcher = recorder_cls.start(trap_exit=True)

    watcher.proxy().link_to(dead).get(timeout=5)

    assert watcher.proxy().messages().get(timeout=5) == [Exit(dead, "noproc")]
    assert watcher.is_alive()


def test_linking_to_a_dead_agent_without_trapping_raises_noproc_and_crashes_the_caller(
        kind: Any, recorder_cls: Any) -> None:
    """P1: without trap_exit, the noproc of a link to a dead agent ends the caller."""
    dead = _crasher(kind).start()
    dead.stop()
    watcher = recorder_cls.start()

    with pytest.raises(NoProc):
        watcher.proxy().link_to(dead).get(timeout=5)

    assert isinstance(watcher.join(timeout=5), NoProc)


# -- P2 the exit-signal matrix ----------------------------------------------------------


def test_an_exit_signal_is_dropped_if_the_link_was_removed_first(kind: Any,
                                                                 recorder_cls: Any) -> None:
    """P2: a signal whose link was already removed is dropped."""
    watcher = recorder_cls.start(trap_exit=True)
    quiet = recorder_cls.start()
    target = _crasher(kind).start()
    for ref in (watcher, quiet):
        ref.proxy().link_to(target).get(timeout=5)
        ref.proxy().unlink_from(target).get(timeout=5)

    target.tell(ValueError("crash"))
    target.join(timeout=5)

    assert watcher.proxy().messages().get(timeout=5) == []
    assert quiet.proxy().messages().get(timeout=5) == []
    assert quiet.is_alive()


def test_a_link_signal_that_arrives_after_the_receiver_unlinked_is_dropped(
        kind: Any, recorder_cls: Any) -> None:
    """P2: a signal still in flight when its link was removed is dropped.

    The sender's side is played by calling ``exit_signal(..., from_link=True)``
    as the node layer does when a remote linked agent dies.
    """
    watcher = recorder_cls.start(trap_exit=True)
    quiet = recorder_cls.start()
    sender = _crasher(kind).start()
    for ref in (watcher, quiet):
        ref.proxy().link_to(sender).get(timeout=5)
        ref.proxy().unlink_from(sender).get(timeout=5)

    for ref in (watcher, quiet):
        ref._proc.exit_signal(sender, "in flight", from_link=True)

    assert watcher.proxy().messages().get(timeout=5) == []
    assert quiet.is_alive()


def test_a_normal_exit_through_a_link_is_dropped_by_a_non_trapping_agent(
        kind: Any, recorder_cls: Any) -> None:
    """P2: reason normal, receiver not trapping, sender != receiver: dropped."""
    watcher = recorder_cls.start()
    target = _crasher(kind).start()
    watcher.proxy().link_to(target).get(timeout=5)

    target.stop()

    assert watcher.proxy().messages().get(timeout=5) == []
    assert watcher.is_alive()


def test_an_explicit_exit_normal_is_ignored_by_a_non_trapping_agent(kind: Any,
                                                                   recorder_cls: Any) -> None:
    """P2: exit(P, normal) from another process does not end P."""
    target = recorder_cls.start()

    otp.actor.exit(target, "normal")

    assert target.proxy().messages().get(timeout=5) == []
    assert target.is_alive()


def test_exit_self_normal_ends_the_calling_agent(kind: Any) -> None:
    """P2: exit(self(), normal) terminates the caller."""

    class Quitter(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            otp.actor.exit(self.actor_ref, "normal")

    ref = Quitter.start()
    ref.tell("quit")

    assert ref.join(timeout=5) == "normal"


def test_an_explicit_exit_kill_ends_even_a_trapping_agent_with_reason_killed(
        kind: Any, recorder_cls: Any) -> None:
    """P2: exit(P, kill) is untrappable and the reason becomes killed."""
    from_outside = recorder_cls.start(trap_exit=True)
    from_agent = recorder_cls.start(trap_exit=True)

    class Killer(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            self.exit(message, "kill")

    otp.actor.exit(from_outside, "kill")
    Killer.start().ask(from_agent, timeout=5)

    assert from_outside.join(timeout=5) == "killed"
    assert from_agent.join(timeout=5) == "killed"


def test_a_kill_reason_through_a_link_reaches_a_trapping_agent_as_kill(
        kind: Any, recorder_cls: Any) -> None:
    """P2: a kill arriving through a link is not turned into killed (trapping receiver)."""
    watcher = recorder_cls.start(trap_exit=True)
    linked = _crasher(kind).start()
    watcher.proxy().link_to(linked).get(timeout=5)

    linked.tell(("stop", "kill"))

    assert linked.join(timeout=5) == "kill"
    assert watcher.proxy().messages().get(timeout=5) == [Exit(linked, "kill")]
    assert watcher.is_alive()


def test_a_kill_reason_through_a_link_ends_a_non_trapping_agent_with_reason_kill(
        kind: Any, recorder_cls: Any) -> None:
    """P2: a kill arriving through a link is not turned into killed (non-trapping receiver)."""
    watcher = recorder_cls.start()
    linked = _crasher(kind).start()
    watcher.proxy().link_to(linked).get(timeout=5)

    linked.tell(("stop", "kill"))

    assert watcher.join(timeout=5) == "kill"


def test_an_abnormal_exit_through_a_link_ends_a_non_trapping_agent_with_the_same_reason(
        kind: Any, recorder_cls: Any) -> None:
    """P2: any reason other than normal terminates a non-trapping receiver."""
    terminated: list[Any] = []

    class Watcher(recorder_cls):  # type: ignore[misc, valid-type]
        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    boom = ValueError("crash")
    watcher = Watcher.start()
    target = _crasher(kind).start()
    watcher.proxy().link_to(target).get(timeout=5)

    target.tell(boom)

    assert watcher.join(timeout=5) is boom
    assert terminated == []  # ended by a signal it does not trap: no terminate


@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "x")], ids=["shutdown", "detail"])
def test_a_shutdown_exit_through_a_link_ends_a_non_trapping_agent(
        kind: Any, recorder_cls: Any, reason: Any) -> None:
    """P2: shutdown is not normal, so it ends a non-trapping linked agent."""
    watcher = recorder_cls.start()
    target = _crasher(kind).start()
    watcher.proxy().link_to(target).get(timeout=5)

    target.tell(("stop", reason))

    assert watcher.join(timeout=5) == reason


def test_a_trapping_agent_receives_exit_messages_with_the_sender_and_reason(
        kind: Any, recorder_cls: Any) -> None:
    """P2: when trapping, a signal becomes the message Exit(sender, reason)."""
    boom = ValueError("crash")
    watcher = recorder_cls.start(trap_exit=True)
    crashed = _crasher(kind).start()
    stopped = _crasher(kind).start()
    for ref in (crashed, stopped):
        watcher.proxy().link_to(ref).get(timeout=5)

    crashed.tell(boom)
    crashed.join(timeout=5)
    stopped.stop()

    messages = watcher.proxy().messages().get(timeout=5)
    assert messages == [Exit(crashed, boom), Exit(stopped, "normal")]
    assert messages[0].reason is boom
    assert watcher.is_alive()


def test_an_explicit_exit_to_a_trapping_agent_arrives_as_a_message_naming_the_sender(
        kind: Any, recorder_cls: Any) -> None:
    """P2: exit(P, R) to a trapping P becomes Exit(sender, R); None from outside any agent."""
    watcher = recorder_cls.start(trap_exit=True)

    class Signaller(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            self.exit(watcher, "go away")

    signaller = Signaller.start()
    signaller.ask("signal", timeout=5)
    otp.actor.exit(watcher, "normal")

    assert watcher.proxy().messages().get(timeout=5) == [
        Exit(signaller, "go away"), Exit(None, "normal")]
    assert watcher.is_alive()


def test_an_explicit_abnormal_exit_ends_a_non_trapping_agent_with_that_reason(
        kind: Any, recorder_cls: Any) -> None:
    target = recorder_cls.start()

    otp.actor.exit(target, "go away")

    assert target.join(timeout=5) == "go away"


def test_an_inbox_linked_to_an_agent_receives_its_exit(kind: Any) -> None:
    target = _crasher(kind).start()
    with Inbox() as inbox:
        inbox.link(target)
        target.stop()

        assert inbox.receive(timeout=5) == Exit(target, "normal")
