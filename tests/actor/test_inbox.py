"""Inbox: a mailbox for code that is not an agent.

Mirrors otp/actor/_inbox.py. Every test runs once per execution kind.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from otp.actor import Down, Exit, Inbox
from otp.errors import AskTimeout


def _echo(kind: Any) -> Any:
    class Echo(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if isinstance(message, BaseException):
                raise message
            return message

        def tell_to(self, ref: Any, *messages: Any) -> None:
            for message in messages:
                ref.tell(message)

    return Echo


def test_an_agent_can_tell_an_inbox(kind: Any) -> None:
    agent = _echo(kind).start()
    with Inbox() as inbox:
        agent.proxy().tell_to(inbox.ref, "a", "b").get(timeout=5)

        assert inbox.receive(timeout=5) == "a"
        assert inbox.receive(timeout=5) == "b"


def test_receive_with_match_takes_the_first_match_and_leaves_the_others_queued(
        kind: Any) -> None:
    agent = _echo(kind).start()
    with Inbox() as inbox:
        agent.proxy().tell_to(inbox.ref, 1, "two", 3, "four").get(timeout=5)

        assert inbox.receive(timeout=5, match=lambda m: isinstance(m, str)) == "two"
        assert inbox.pending() == [1, 3, "four"]
        assert inbox.receive(timeout=5) == 1


def test_receive_waits_for_a_matching_message_that_arrives_later(kind: Any) -> None:
    with Inbox() as inbox:
        inbox.ref.tell("early")
        agent = _echo(kind).start()
        agent.proxy().tell_to.defer(inbox.ref, "late")

        assert inbox.receive(timeout=5, match=lambda m: m == "late") == "late"
        assert inbox.pending() == ["early"]


def test_receive_with_nothing_matching_raises_ask_timeout(kind: Any) -> None:
    with Inbox() as inbox:
        inbox.ref.tell("not this")
        started = time.monotonic()

        with pytest.raises(AskTimeout) as info:
            inbox.receive(timeout=0.05, match=lambda m: m == "that")

        assert time.monotonic() - started >= 0.05
        assert str(inbox.ref) in str(info.value)
        assert inbox.pending() == ["not this"]


def test_an_inbox_monitors_an_agent(kind: Any) -> None:
    agent = _echo(kind).start()
    with Inbox() as inbox:
        mref = inbox.monitor(agent)

        agent.stop()

        assert inbox.receive(timeout=5) == Down(mref, agent, "normal")


def test_an_inbox_linked_to_an_agent_receives_its_crash_as_an_exit_message(kind: Any) -> None:
    boom = ValueError("crash")
    agent = _echo(kind).start()
    with Inbox() as inbox:
        inbox.link(agent)

        agent.tell(boom)

        assert inbox.receive(timeout=5) == Exit(agent, boom)


def test_an_inbox_linking_to_a_dead_agent_receives_exit_noproc(kind: Any) -> None:
    agent = _echo(kind).start()
    agent.stop()
    with Inbox() as inbox:
        inbox.link(agent)

        assert inbox.pending() == [Exit(agent, "noproc")]


def test_an_inbox_unlinked_from_an_agent_hears_nothing_of_its_exit(kind: Any) -> None:
    agent = _echo(kind).start()
    with Inbox() as inbox:
        inbox.link(agent)
        inbox.unlink(agent)

        agent.kill()
        agent.join(timeout=5)

        assert inbox.pending() == []


def test_an_inbox_demonitor_with_flush_drops_a_queued_down(kind: Any) -> None:
    agent = _echo(kind).start()
    with Inbox() as inbox:
        mref = inbox.monitor(agent)
        agent.stop()  # its Down is queued in the inbox

        assert inbox.demonitor(mref, flush=True) is False
        inbox.ref.tell("after")

        assert inbox.receive(timeout=5) == "after"
        assert inbox.pending() == []


def test_closing_an_inbox_fires_its_links_and_monitors(kind: Any, recorder_cls: Any) -> None:
    trapping = recorder_cls.start(trap_exit=True)
    quiet = recorder_cls.start()
    watcher = recorder_cls.start()
    inbox = Inbox()
    inbox.link(trapping)
    inbox.link(quiet)
    mref = watcher.proxy().watch(inbox.ref).get(timeout=5)

    inbox.close()

    assert not inbox.ref.is_alive()
    assert inbox.ref.exit_reason == "normal"
    assert trapping.proxy().messages().get(timeout=5) == [Exit(inbox.ref, "normal")]
    assert quiet.proxy().messages().get(timeout=5) == []  # normal: dropped, still alive
    assert quiet.is_alive()
    assert watcher.proxy().messages().get(timeout=5) == [Down(mref, inbox.ref, "normal")]


def test_leaving_an_inbox_context_closes_it(kind: Any) -> None:
    with Inbox() as inbox:
        assert inbox.ref.is_alive()

    assert not inbox.ref.is_alive()
