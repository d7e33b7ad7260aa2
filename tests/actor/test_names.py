"""Registered names: reference item P5, and sending by name (P4).

Mirrors otp/actor/_names.py. Every test runs once per execution kind.
"""

from __future__ import annotations

from typing import Any

import pytest
from actor_support import collector

import otp.actor
from otp.actor import Down, Inbox
from otp.errors import AlreadyStarted, NameTaken, NotRegistered


def test_register_whereis_unregister_and_registered_work_together(kind: Any) -> None:
    """P5: a name maps to one live agent until it is unregistered."""
    ref = collector(kind).start()

    otp.actor.register("names-worker", ref)

    assert otp.actor.whereis("names-worker") == ref
    assert "names-worker" in otp.actor.registered()
    assert otp.actor.registered() == sorted(otp.actor.registered())
    otp.actor.unregister("names-worker")
    assert otp.actor.whereis("names-worker") is None
    assert "names-worker" not in otp.actor.registered()
    assert ref.is_alive()


def test_an_unregistered_name_can_be_registered_again(kind: Any) -> None:
    ref = collector(kind).start()
    otp.actor.register("names-again", ref)
    otp.actor.unregister("names-again")

    otp.actor.register("names-again-2", ref)

    assert otp.actor.whereis("names-again-2") == ref


def test_registering_a_taken_name_raises_name_taken_with_the_holder(kind: Any) -> None:
    """P5: registration fails if the name is taken."""
    holder = collector(kind).start()
    other = collector(kind).start()
    otp.actor.register("names-taken", holder)

    with pytest.raises(NameTaken) as info:
        otp.actor.register("names-taken", other)

    assert info.value.holder == holder
    assert "names-taken" in str(info.value)
    assert otp.actor.whereis("names-taken") == holder


def test_registering_an_agent_that_already_has_a_name_raises_name_taken(kind: Any) -> None:
    """P5: registration fails if the agent is already named."""
    ref = collector(kind).start()
    otp.actor.register("names-first", ref)

    with pytest.raises(NameTaken, match="names-first"):
        otp.actor.register("names-second", ref)

    assert otp.actor.whereis("names-second") is None


def test_registering_a_dead_agent_raises_name_taken(kind: Any) -> None:
    """P5: registration fails if the agent is dead."""
    ref = collector(kind).start()
    ref.stop()

    with pytest.raises(NameTaken, match="not alive"):
        otp.actor.register("names-dead", ref)

    assert otp.actor.whereis("names-dead") is None


def test_a_name_must_be_a_non_empty_string(kind: Any) -> None:
    ref = collector(kind).start()

    with pytest.raises(TypeError):
        otp.actor.register("", ref)
    with pytest.raises(TypeError):
        otp.actor.register(42, ref)  # type: ignore[arg-type]


def test_unregistering_an_unknown_name_raises_not_registered(kind: Any) -> None:
    with pytest.raises(NotRegistered, match="names-unknown"):
        otp.actor.unregister("names-unknown")


def test_a_name_is_released_before_the_down_is_delivered(kind: Any) -> None:
    """P5: after receiving Down, whereis returns None (checked inside the watcher's handler)."""

    class Watcher(kind.Agent):
        def on_start(self) -> None:
            self.seen: list[Any] = []

        def watch(self, name: str) -> Any:
            return self.monitor(name)

        def on_receive(self, message: Any) -> Any:
            if isinstance(message, Down):
                self.seen.append((message, otp.actor.whereis("names-released")))

        def messages(self) -> list[Any]:
            return list(self.seen)

    target = collector(kind).spawn(name="names-released")
    watcher = Watcher.start()
    mref = watcher.proxy().watch("names-released").get(timeout=5)
    with Inbox() as inbox:
        inbox_mref = inbox.monitor("names-released")

        target.kill()

        assert inbox.receive(timeout=5) == Down(inbox_mref, target, "killed")
        assert otp.actor.whereis("names-released") is None
    assert watcher.proxy().messages().get(timeout=5) == [(Down(mref, target, "killed"), None)]


def test_a_name_is_free_again_once_its_agent_has_exited(kind: Any) -> None:
    first = collector(kind).spawn(name="names-reused")
    first.stop()

    second = collector(kind).spawn(name="names-reused")

    assert otp.actor.whereis("names-reused") == second


def test_spawning_with_a_taken_name_raises_already_started_with_the_running_holder(
        kind: Any) -> None:
    """P5: starting a named agent whose name is taken gives already_started."""
    holder = collector(kind).spawn(name="names-singleton")

    with pytest.raises(AlreadyStarted) as info:
        collector(kind).spawn(name="names-singleton")

    assert info.value.holder == holder
    assert info.value.holder.is_alive()
    assert "names-singleton" in str(info.value)
    assert otp.actor.whereis("names-singleton") == holder


def test_send_to_a_registered_name_reaches_its_agent(kind: Any) -> None:
    ref = collector(kind).spawn(name="names-mailbox")

    otp.actor.send("names-mailbox", "hello")
    otp.actor.send(ref, "again")

    assert ref.ask("report", timeout=5) == ["hello", "again"]


def test_send_to_an_unregistered_name_raises_not_registered(kind: Any) -> None:
    """P4: sending to an unregistered name raises (OTP: badarg)."""
    ref = collector(kind).spawn(name="names-gone")
    ref.stop()

    with pytest.raises(NotRegistered, match="names-gone"):
        otp.actor.send("names-gone", "hello")
    with pytest.raises(NotRegistered, match="unknown-name"):
        otp.actor.send("unknown-name", "hello")
