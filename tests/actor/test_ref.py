"""AgentRef and AgentFuture: tell, ask, timeouts, futures, identity, dead letters.

Mirrors otp/actor/_ref.py. Every test runs once per execution kind.
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any

import pytest
from actor_support import collector, echo

import otp.actor
from otp.actor import DEFAULT_TIMEOUT, AgentFuture, AgentRef
from otp.errors import AgentExit, AskTimeout, NoProc


class Ping:
    """A message type with a recognisable name."""




def _blocker(kind: Any, gate: threading.Event, entered: threading.Event) -> Any:
    class Blocker(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if message == "block":
                entered.set()
                gate.wait(5)
            return message

    return Blocker


# -- identity ------------------------------------------------------------------------------


def test_an_agent_ref_is_hashable_and_equal_by_agent_id(kind: Any) -> None:
    class Me(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            return self.actor_ref

    ref = Me.start()
    other = Me.start()
    same = ref.ask("who", timeout=5)

    assert same == ref
    assert hash(same) == hash(ref)
    assert AgentRef(ref._proc, "AnotherName") == ref
    assert ref != other
    assert ref != ref.id
    assert len({ref, same, other}) == 2
    assert {ref: "a"}[same] == "a"


def test_str_shows_the_class_name_and_id_and_repr_marks_a_ref(kind: Any) -> None:
    class Named(kind.Agent):
        pass

    ref = Named.start()

    assert str(ref) == f"Named ({ref.id})"
    assert ref.id.startswith("urn:uuid:")
    assert repr(ref) == f"<AgentRef Named ({ref.id})>"


def test_is_alive_is_true_until_the_agent_exits(kind: Any) -> None:
    ref = echo(kind).start()

    assert ref.is_alive()
    assert ref.exit_reason is None
    ref.stop()

    assert not ref.is_alive()
    assert ref.exit_reason == "normal"


def test_join_of_a_live_agent_times_out_with_ask_timeout(kind: Any) -> None:
    ref = echo(kind).start()

    with pytest.raises(AskTimeout, match="still alive"):
        ref.join(timeout=0.01)


# -- tell and ask ----------------------------------------------------------------------------


def test_an_ask_is_answered_after_the_tells_sent_before_it(kind: Any) -> None:
    ref = collector(kind).start()

    ref.tell("a")
    ref.tell("b")

    assert ref.ask("report", timeout=5) == ["a", "b"]


def test_ask_without_block_returns_a_future_of_the_reply(kind: Any) -> None:
    ref = echo(kind).start()

    future = ref.ask("hello", block=False)

    assert isinstance(future, AgentFuture)
    assert future.get(timeout=5) == "hello"


def test_messages_from_one_sender_arrive_in_the_order_sent(kind: Any) -> None:
    """P4: order is kept per sender->receiver pair (10,000 numbered messages)."""
    ref = collector(kind).start()

    for i in range(10_000):
        ref.tell(i)

    assert ref.ask("report", timeout=5) == list(range(10_000))


def test_messages_from_one_agent_to_another_arrive_in_the_order_sent(kind: Any) -> None:
    """P4: the same between two agents; the sender's ask follows its own tells."""

    class Sender(kind.Agent):
        async def send_numbers(self, target: Any, n: int) -> Any:
            for i in range(n):
                target.tell(i)
            return await target.ask_async("report", timeout=5)

    target = collector(kind).start()
    sender = Sender.start()

    assert sender.proxy().send_numbers(target, 10_000).get(timeout=5) == list(range(10_000))


def test_telling_a_dead_agent_is_silently_dropped_and_counted_as_a_dead_letter(
        kind: Any) -> None:
    """P4: sending to a dead agent does not raise; each message is a dead letter."""
    ref = echo(kind).start()
    ref.stop()
    before = otp.actor.dead_letters()

    for i in range(7):
        ref.tell(i)

    assert otp.actor.dead_letters() - before == 7


# -- timeouts and failures (P6) ---------------------------------------------------------------


def test_ask_waits_five_seconds_by_default(kind: Any, monkeypatch: pytest.MonkeyPatch,
                                           new_gate: Any) -> None:
    """P6: the default timeout is 5 s (checked on the constant, without waiting 5 s)."""
    assert DEFAULT_TIMEOUT == 5.0
    assert inspect.signature(AgentRef.ask).parameters["timeout"].default == DEFAULT_TIMEOUT
    assert inspect.signature(AgentRef.stop).parameters["timeout"].default == DEFAULT_TIMEOUT
    assert inspect.signature(AgentRef.join).parameters["timeout"].default == DEFAULT_TIMEOUT

    # AgentFuture.get() with no timeout reads the constant at call time.
    monkeypatch.setattr("otp.actor._future.DEFAULT_TIMEOUT", 0.05)
    ref = _blocker(kind, new_gate(), threading.Event()).start()
    ref.tell("block")
    future = ref.ask("later", block=False)
    started = time.monotonic()
    with pytest.raises(AskTimeout, match="0.05"):
        future.get()
    assert time.monotonic() - started < 1


def test_ask_timeout_names_the_agent_and_the_message_type(kind: Any, new_gate: Any) -> None:
    """P6 / Y3: no reply in time raises AskTimeout, a TimeoutError naming agent and message."""
    ref = _blocker(kind, new_gate(), threading.Event()).start()
    ref.tell("block")

    with pytest.raises(AskTimeout) as info:
        ref.ask(Ping(), timeout=0.05)

    assert isinstance(info.value, TimeoutError)
    assert str(ref) in str(info.value)
    assert "Ping" in str(info.value)


def test_a_proxy_call_timeout_names_the_method(kind: Any, new_gate: Any) -> None:
    gate = new_gate()

    class Slow(kind.Agent):
        def think(self) -> str:
            gate.wait(5)
            return "done"

    ref = Slow.start()

    with pytest.raises(AskTimeout) as info:
        ref.proxy().think().get(timeout=0.05)

    assert "think" in str(info.value)
    assert str(ref) in str(info.value)


def test_the_caller_of_an_agent_that_dies_mid_ask_gets_agent_exit_with_the_reason(
        kind: Any, new_gate: Any) -> None:
    """P6: the server dies mid-call; the caller gets its exit reason, not a timeout."""
    entered = threading.Event()
    ref = _blocker(kind, new_gate(), entered).start()
    future = ref.ask("block", block=False)
    assert entered.wait(5)

    started = time.monotonic()
    ref.kill()
    with pytest.raises(AgentExit) as info:
        future.get(timeout=5)

    assert time.monotonic() - started < 1
    assert info.value.reason == "killed"
    assert info.value.agent == ref


def test_an_agent_exiting_itself_mid_ask_fails_the_ask_with_its_reason(kind: Any) -> None:
    class Quitter(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            otp.actor.exit(self.actor_ref, "had enough")
            return "never delivered"

    ref = Quitter.start()

    with pytest.raises(AgentExit) as info:
        ref.ask("go", timeout=5)

    assert info.value.reason == "had enough"
    assert ref.join(timeout=5) == "had enough"


def test_queued_asks_fail_at_once_when_the_agent_dies(kind: Any, new_gate: Any) -> None:
    """P6: asks waiting in the mailbox fail with AgentExit when the agent dies, not later."""
    entered = threading.Event()
    ref = _blocker(kind, new_gate(), entered).start()
    ref.tell("block")
    assert entered.wait(5)
    queued = [ref.ask(i, block=False) for i in range(5)]

    started = time.monotonic()
    ref.kill()
    for future in queued:
        with pytest.raises(AgentExit) as info:
            future.get(timeout=5)
        assert info.value.reason == "killed"

    assert time.monotonic() - started < 1


def test_queued_asks_fail_with_the_exception_when_the_agent_crashes(kind: Any,
                                                                      new_gate: Any) -> None:
    gate = new_gate()
    entered = threading.Event()
    boom = ValueError("crash")

    class Fragile(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if message == "crash":
                entered.set()
                gate.wait(5)
                raise boom
            return message

    ref = Fragile.start()
    ref.tell("crash")
    assert entered.wait(5)
    queued = ref.ask("after", block=False)
    gate.set()

    with pytest.raises(AgentExit) as info:
        queued.get(timeout=5)
    assert info.value.reason is boom


def test_asking_a_dead_agent_raises_noproc(kind: Any) -> None:
    """P6: calling a process that is not alive gives noproc."""
    ref = echo(kind).start()
    ref.stop()

    with pytest.raises(NoProc) as info:
        ref.ask("anyone?", timeout=5)

    assert info.value.reason == "noproc"
    assert str(ref) in str(info.value)


def test_late_replies_after_a_timeout_do_not_disturb_later_asks(kind: Any,
                                                                 new_gate: Any) -> None:
    """P6: a reply that comes after its ask timed out is dropped."""
    gate = new_gate()

    class Slow(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if message == "slow":
                gate.wait(5)
            return f"reply to {message}"

    ref = Slow.start()
    with pytest.raises(AskTimeout):
        ref.ask("slow", timeout=0.05)

    gate.set()

    assert ref.ask("fast", timeout=5) == "reply to fast"
    assert ref.ask("next", timeout=5) == "reply to next"
